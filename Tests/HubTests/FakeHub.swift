import Foundation
@testable import Hub
#if canImport(Glibc)
import Glibc
#endif

/// A tiny Hugging Face Hub on 127.0.0.1 for the download tests: the metadata API, resolve URLs
/// that redirect to a "CDN" path with LFS headers, ranged GETs, a connection dropped mid-file,
/// a corrupted blob, 404 and 401.
final class FakeHub: @unchecked Sendable {
    let fd: Int32
    let port: Int
    let files: [String: Data]
    let commit = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c"
    let lock = NSLock()
    var dropOnce: Set<String> = []
    var corrupt: Set<String> = []
    var requests: [String] = []
    let token = "secret-token"

    init(files: [String: Data]) throws {
        self.files = files
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(fd, 64)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        port = Int(UInt16(bigEndian: addr.sin_port))
        start()
    }

    private func start() {
        let listener = fd
        Thread { [self] in
            while true {
                let c = accept(listener, nil, nil)
                if c < 0 { return }
                Thread { self.serve(c) }.start()
            }
        }.start()
    }

    func stop() { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }

    static func sha256(_ d: Data) -> String {
        var h = SHA256()
        h.update(d)
        return h.finalize()
    }

    func metadata() -> Data {
        let siblings = files.keys.sorted().map { name -> [String: Any] in
            let d = files[name]!
            var s: [String: Any] = ["rfilename": name, "size": d.count, "blobId": String(format: "%040x", name.hashValue & 0xffffffff)]
            if name.hasSuffix(".safetensors") || name.hasSuffix(".bin") || name == "spm.model" {
                s["lfs"] = ["sha256": Self.sha256(d), "size": d.count]
            }
            return s
        }
        return try! JSONSerialization.data(withJSONObject: ["sha": commit, "siblings": siblings])
    }

    private func send(_ c: Int32, _ bytes: [UInt8]) { bytes.withUnsafeBytes { _ = Glibc.send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }

    private func respond(_ c: Int32, _ status: Int, _ headers: [String: String] = [:], _ body: Data = Data()) {
        var h = "HTTP/1.1 \(status) X\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
        for (k, v) in headers { h += "\(k): \(v)\r\n" }
        send(c, Array((h + "\r\n").utf8) + [UInt8](body))
    }

    private func serve(_ c: Int32) {
        defer { close(c) }
        var buf = [UInt8](), chunk = [UInt8](repeating: 0, count: 8192)
        while !(buf.count >= 4 && buf.suffix(4) == [13, 10, 13, 10]) {
            let n = recv(c, &chunk, chunk.count, 0)
            if n <= 0 { return }
            buf += chunk[0..<n]
        }
        let head = String(decoding: buf, as: UTF8.self).components(separatedBy: "\r\n")
        let target = head[0].split(separator: " ")[1]
        var headers: [String: String] = [:]
        for l in head.dropFirst() { if let i = l.firstIndex(of: ":") { headers[l[..<i].lowercased()] = l[l.index(after: i)...].trimmingCharacters(in: .whitespaces) } }
        lock.lock(); requests.append(String(target)); lock.unlock()
        let path = String(target.split(separator: "?")[0])
        let parts = path.split(separator: "/").map(String.init)
        // /api/models/ORG/NAME/revision/REV
        if parts.count == 6, parts[0] == "api", parts[1] == "models" {
            let repo = parts[2] + "/" + parts[3]
            if repo == "test-org/private" && headers["authorization"] != "Bearer \(token)" { respond(c, 401); return }
            guard repo == "test-org/tiny" || repo == "test-org/private" else { respond(c, 404); return }
            respond(c, 200, ["Content-Type": "application/json"], metadata())
            return
        }
        // /ORG/NAME/resolve/COMMIT/FILE -> redirect to the CDN path
        if parts.count == 5, parts[2] == "resolve" {
            guard let d = files[parts[4]] else { respond(c, 404); return }
            respond(c, 302, ["Location": "/cdn/\(parts[4])", "X-Repo-Commit": commit, "X-Linked-Size": String(d.count),
                             "X-Linked-Etag": "\"\(Self.sha256(d))\""])
            return
        }
        if parts.count == 2, parts[0] == "cdn", var d = files[parts[1]] {
            lock.lock()
            let drop = dropOnce.remove(parts[1]) != nil
            if corrupt.contains(parts[1]) { d[d.count / 2] ^= 0xFF }
            lock.unlock()
            var lo = 0, hi = d.count - 1
            if let r = headers["range"], r.hasPrefix("bytes=") {
                let nums = r.dropFirst(6).split(separator: "-").map { Int($0)! }
                lo = nums[0]
                if nums.count > 1 { hi = min(nums[1], d.count - 1) }
            }
            let body = d.subdata(in: lo..<(hi + 1))
            if drop {
                // Promise the whole range, send half of it, hang up.
                let h = "HTTP/1.1 206 Partial\r\nContent-Length: \(body.count)\r\nContent-Range: bytes \(lo)-\(hi)/\(d.count)\r\n\r\n"
                send(c, Array(h.utf8) + [UInt8](body.prefix(body.count / 2)))
                return
            }
            respond(c, headers["range"] == nil ? 200 : 206, ["Content-Range": "bytes \(lo)-\(hi)/\(d.count)"], body)
            return
        }
        respond(c, 404)
    }
}
