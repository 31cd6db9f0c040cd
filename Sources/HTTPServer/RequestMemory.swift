import Sync

/// The server's one budget of request bytes (`ServerConfig.maxBufferedRequestBytes`), shared by
/// the event loop and the handlers.
///
/// The event loop publishes what it holds: heads and bodies being received, parsed requests
/// waiting their turn, and the bodies whose handler is running. A handler reserves, through its
/// `HTTPRequestContext`, what it builds from a body beyond the body itself (an inflated body, a
/// parsed JSON tree) before building it; the server returns the reservation when the handler
/// returns. A reservation that would take the total past the limit is refused, and so is a read
/// by the event loop, so the bytes a client can make the server hold stay within one number.
public final class RequestMemory: Sendable {
    public let limit: Int
    private struct Counts { var loopHeld = 0, reserved = 0, peak = 0 }
    /// Guards the event loop's published count, the handlers' reservations and the peak; a leaf
    /// (nothing is called while it is held).
    private let counts = Locked(Counts())

    public init(limit: Int) { self.limit = max(limit, 0) }

    /// Bytes held now: the event loop's buffers plus every handler's reservation.
    public var held: Int { counts.withLock { $0.loopHeld + $0.reserved } }
    /// The most `held` has been since start.
    public var peakHeld: Int { counts.withLock { $0.peak } }
    /// Bytes reserved by running handlers.
    public var reservedByHandlers: Int { counts.withLock { $0.reserved } }

    /// Whether `n` more bytes fit (the event loop asks before it reads or accepts a body).
    func fits(_ n: Int) -> Bool {
        counts.withLock { Self.fits($0.loopHeld, $0.reserved, n, limit) }
    }

    /// The event loop's own count, as it changes.
    func publishLoop(_ n: Int) {
        counts.withLock { c in
            c.loopHeld = n
            c.peak = max(c.peak, c.loopHeld + c.reserved)
        }
    }

    /// Reserves `n` bytes if they fit; false (nothing reserved) if they do not or `n` is negative.
    public func reserve(_ n: Int) -> Bool {
        guard n >= 0 else { return false }
        return counts.withLock { c in
            guard Self.fits(c.loopHeld, c.reserved, n, limit) else { return false }
            c.reserved += n
            c.peak = max(c.peak, c.loopHeld + c.reserved)
            return true
        }
    }

    public func release(_ n: Int) {
        guard n > 0 else { return }
        counts.withLock { $0.reserved = max($0.reserved - n, 0) }
    }

    /// held + n <= limit, without overflow for any n.
    private static func fits(_ loop: Int, _ reserved: Int, _ n: Int, _ limit: Int) -> Bool {
        let (sum, o1) = loop.addingReportingOverflow(reserved)
        let (total, o2) = sum.addingReportingOverflow(n)
        return !o1 && !o2 && total <= limit
    }
}
