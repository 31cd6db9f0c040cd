import Foundation
import PairRanker
import Sync

/// One shared inference engine (after text-embeddings-inference's queue.rs): one owner thread
/// holds a queue of pair sequences from every request (not of requests), cuts batches by a token
/// budget, a pair cap and a short wait, runs them packed without padding, and hands each request
/// its logits. Requests whose client left or whose deadline passed have their queued pairs
/// dropped before they are computed. Admission is decided for a whole request before any work.
///
/// Scheduling policy: round robin over requests. A batch takes one pair from each waiting
/// request in queue order, then a second from each, and so on until the budget is full; then the
/// requests that got a pair move behind those that got none, so the next batch starts with the
/// ones left out. A small /compare sent while a large /rank is queued therefore rides in the next
/// batch or the one after, whatever the pairs' lengths (a pair longer than half the budget fills
/// a batch alone, and such batches alternate between requests instead of draining the oldest).
/// A request's pairs may be spread over several batches; results never depend on the batch (the
/// model's logits are bit-identical whatever shares the batch).
///
/// Lock discipline (docs/architecture.md): `cond` guards the queue and the counters below and is
/// a leaf lock. Nothing outside this type is called while it is held: not Metrics (counters are
/// added after unlocking), not a request's cancellation check (it takes the context's lock), not
/// the scorer.
// @unchecked: the queue, the counters and the queued jobs' scheduling fields are only touched
// under `cond`; a job's results are read by its caller after `Job.done` (see there); `thread`
// is written once, in init.
public final class BatchingEngine: InferenceEngine, @unchecked Sendable {
    public struct Config: Sendable, Equatable {
        /// Tokens in one batch at most (sum of the packed sequences' lengths). Every batch pays
        /// a fixed cost per dense layer (its weights stream from memory once per call, and
        /// OpenBLAS, where it runs them, repacks them), so a larger budget buys some
        /// throughput (full-size mix: 0.82 pairs/s at 512, 0.87 at 1024, 0.90 at 2048, BENCHMARKS.md) but makes a small request wait longer behind the
        /// running batch; one pair longer than the budget still runs, alone.
        public var maxBatchTokens = 512
        /// Pair sequences in one batch at most.
        public var maxBatchPairs = 32
        /// How long the first pair of a batch waits for company (milliseconds).
        public var maxWaitMilliseconds = 2.0
        /// Admitted pairs (queued or running) at most; a request that would exceed it gets 429.
        /// 32,768: room for one whole sort of 1,000 documents (29,632 pairs at most). Each queued
        /// pair holds its token ids (at most 512 of them), so the queue is bounded at about 64 MiB.
        public var maxQueuePairs = 32768
        public init() {}
    }

    public typealias Scorer = ([PairSequence]) throws -> [Float]

    final class Job {
        let pairs: [PairSequence]
        var results: [Float]
        var remaining: Int
        var next = 0                     // next pair index to schedule
        var abandoned = false
        var error: Error?
        /// The caller's wake-up: the engine thread signals it once, after its last write to the
        /// job (under `cond`), and the request's context signals it when the client leaves. The
        /// one caller waits on it (until the deadline) and reads whether the job finished under
        /// `cond`, so a stray signal is harmless.
        let done = DispatchSemaphore(value: 0)
        let context: RequestContext
        let enqueued: UInt64
        var firstStart: UInt64?
        var inference: UInt64 = 0
        var tokens = 0
        init(pairs: [PairSequence], context: RequestContext) {
            self.pairs = pairs
            results = Array(repeating: 0, count: pairs.count)
            remaining = pairs.count
            self.context = context
            enqueued = DispatchTime.now().uptimeNanoseconds
        }
    }

    public let config: Config
    let scorer: Scorer
    let metrics: EngineMetrics?
    /// Guards `jobs`, `admitted`, `queuedPairs`, `stopped` and every queued job's scheduling
    /// fields (`next`, `remaining`, `results`, `error`, `abandoned`, timings); a leaf lock.
    private let cond = Condition()
    private var jobs: [Job] = []          // waiting or partly scheduled, arrival order
    private var admitted = 0
    private var queuedPairs = 0
    private var stopped = false
    private var thread: Thread?

    public static let droppedMetric = "pairranker_pairs_dropped_total"

    public init(config: Config, metrics: EngineMetrics? = nil, scorer: @escaping Scorer) {
        self.config = config
        self.scorer = scorer
        self.metrics = metrics
        metrics?.gauge("pairranker_queue_pairs") { [weak self] in Double(self?.queueDepth ?? 0) }
        metrics?.gauge("pairranker_admitted_pairs") { [weak self] in Double(self?.admittedPairs ?? 0) }
        let t = Thread { [weak self] in self?.loop() }
        t.name = "pairranker-engine"
        t.stackSize = 4 << 20
        thread = t
        t.start()
    }

    public convenience init(model: PairRankerModel, config: Config, metrics: EngineMetrics? = nil) {
        self.init(config: config, metrics: metrics, scorer: model.logits)
    }

    deinit { shutdown() }

    public func shutdown() {
        cond.withLock { stopped = true; cond.broadcast() }
    }

    public var queueDepth: Int { cond.withLock { queuedPairs } }
    public var admittedPairs: Int { cond.withLock { admitted } }

    // MARK: InferenceEngine

    /// Admits `pairs` against `Config.maxQueuePairs`; the returned admission gives them back when
    /// it goes away (and keeps the engine alive until then).
    public func admit(pairs: Int, context: RequestContext) throws -> Admission {
        try cond.withLock {
            guard admitted + pairs <= config.maxQueuePairs else {
                throw EngineError.overloaded(admitted: admitted, capacity: config.maxQueuePairs, requested: pairs)
            }
            admitted += pairs
        }
        return Admission(pairs: pairs) { [self] n in release(pairs: n) }
    }

    private func release(pairs: Int) {
        cond.withLock { admitted -= pairs }
    }

    public func evaluate(_ pairs: [PairSequence], context: RequestContext) throws -> [Float] {
        guard !pairs.isEmpty else { return [] }
        let job = Job(pairs: pairs, context: context)
        cond.withLock {
            jobs.append(job)
            queuedPairs += pairs.count
            cond.signal()
        }
        // Woken by the engine when the job finishes, or by the context when the client leaves;
        // otherwise the wait ends at the deadline. Nothing is polled.
        let done = job.done
        context.whenCancelled { done.signal() }
        while true {
            let until = context.deadline.map { DispatchTime(uptimeNanoseconds: $0) } ?? .distantFuture
            let woke = job.done.wait(timeout: until) == .success
            let cancelled = context.isCancelled
            let (finished, remaining, dropped) = cond.withLock {
                let finished = job.remaining == 0 || job.error != nil
                // `remaining` is read under the lock: the engine thread writes it. A job that is
                // neither finished, cancelled nor past its deadline keeps its pairs (a stray
                // wake-up: the cancellation signal of a job that finished first).
                let give = !finished && (cancelled || context.deadlinePassed || !woke)
                return (finished, job.remaining, give ? abandon(job) : 0)
            }
            if dropped > 0 { metrics?.add(Self.droppedMetric, Double(dropped)) }
            if finished { break }
            if cancelled { throw EngineError.cancelled }
            if context.deadlinePassed || !woke { throw EngineError.deadlineExceeded(remaining: remaining, total: pairs.count) }
        }
        if let e = job.error { throw e }
        let now = DispatchTime.now().uptimeNanoseconds
        let started = job.firstStart ?? now
        let queue = started > job.enqueued ? started - job.enqueued : 0
        context.record(queue: queue, inference: job.inference, pairs: pairs.count, tokens: job.tokens)
        metrics?.observe("pairranker_queue_duration_seconds", Double(queue) / 1e9)
        metrics?.observe("pairranker_inference_duration_seconds", Double(job.inference) / 1e9)
        return job.results
    }

    /// Drops a job's unscheduled pairs (called with the lock held); returns how many, for the
    /// caller to count once the lock is released.
    private func abandon(_ job: Job) -> Int {
        job.abandoned = true
        let dropped = job.pairs.count - job.next
        if dropped > 0 {
            queuedPairs -= dropped
            job.next = job.pairs.count
        }
        jobs.removeAll { $0 === job }
        return dropped
    }

    // MARK: the owner thread

    private func loop() {
        while let waiting = nextWaiting() {
            // Jobs whose client left or whose deadline passed are dropped before any of their
            // remaining pairs run (asked unlocked: a context takes its own lock).
            let gone = waiting.filter { $0.context.isCancelled || $0.context.deadlinePassed }
            let (dropped, batch) = cond.withLock { (gone.reduce(0) { $0 + abandon($1) }, cut()) }
            if dropped > 0 { metrics?.add(Self.droppedMetric, Double(dropped)) }
            guard !batch.isEmpty else { continue }
            run(batch)
        }
    }

    /// The waiting jobs once there are some and the batch has had its short wait for company
    /// (unless the budget is already full); nil once stopped.
    private func nextWaiting() -> [Job]? {
        cond.withLock {
            while jobs.isEmpty && !stopped { cond.wait() }
            if stopped { return nil }
            // A short wait for company, unless the budget is already full (NaN or less: none).
            let wait = config.maxWaitMilliseconds > 0 ? min(config.maxWaitMilliseconds, 1e9) : 0
            let deadline = ContinuousClock.now + .nanoseconds(Int64(wait * 1e6))
            while queuedPairs < config.maxBatchPairs && queuedTokensEstimate() < config.maxBatchTokens && !stopped {
                if !cond.wait(until: deadline) { break }
            }
            return jobs
        }
    }

    private func queuedTokensEstimate() -> Int {
        var t = 0
        for j in jobs { for p in j.pairs[j.next...] { t += p.ids.count; if t >= config.maxBatchTokens { return t } } }
        return t
    }

    /// Takes pairs round robin over the waiting jobs (lock held), then moves the jobs it served
    /// behind those it did not.
    private func cut() -> [(Job, Int)] {
        var served = Set<ObjectIdentifier>()
        var batch: [(Job, Int)] = []
        var tokens = 0
        var progressed = true
        while progressed && batch.count < config.maxBatchPairs {
            progressed = false
            for j in jobs where j.next < j.pairs.count && batch.count < config.maxBatchPairs {
                let n = j.pairs[j.next].ids.count
                if !batch.isEmpty && tokens + n > config.maxBatchTokens { continue }
                batch.append((j, j.next))
                j.next += 1
                tokens += n
                progressed = true
                served.insert(ObjectIdentifier(j))
            }
        }
        queuedPairs -= batch.count
        let open = jobs.filter { $0.next < $0.pairs.count }
        jobs = open.filter { !served.contains(ObjectIdentifier($0)) } + open.filter { served.contains(ObjectIdentifier($0)) }
        return batch
    }

    private func run(_ batch: [(Job, Int)]) {
        let start = DispatchTime.now().uptimeNanoseconds
        let pairs = batch.map { $0.0.pairs[$0.1] }
        let tokens = pairs.reduce(0) { $0 + $1.ids.count }
        var result: Result<[Float], Error> = Result { try scorer(pairs) }
        if case let .success(values) = result, values.count != pairs.count {
            result = .failure(EngineError.scorerMismatch(returned: values.count, expected: pairs.count))
        }
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        metrics?.observe("pairranker_batch_pairs", Double(pairs.count))
        metrics?.observe("pairranker_batch_tokens", Double(tokens))
        metrics?.add("pairranker_pairs_processed_total", Double(pairs.count))
        metrics?.add("pairranker_tokens_processed_total", Double(tokens))
        let finished = cond.withLock { record(batch, pairs: pairs, result: result, start: start, elapsed: elapsed) }
        for j in finished { j.done.signal() }
    }

    /// Writes a batch's logits (or its failure) into its jobs (lock held); returns the jobs it
    /// finished, for the caller to signal once the lock is released.
    private func record(_ batch: [(Job, Int)], pairs: [PairSequence], result: Result<[Float], Error>, start: UInt64,
                        elapsed: UInt64) -> [Job] {
        var finished: [Job] = []
        var seen = Set<ObjectIdentifier>()
        for (k, (job, index)) in batch.enumerated() {
            let first = seen.insert(ObjectIdentifier(job)).inserted
            if job.firstStart == nil { job.firstStart = start }
            if first { job.inference += elapsed }
            job.tokens += pairs[k].ids.count
            switch result {
            case let .success(values):
                job.results[index] = values[k]
                job.remaining -= 1
                if job.remaining == 0 { finished.append(job) }
            case let .failure(e):
                // A failed batch fails its requests; their other pairs are dropped.
                guard first else { continue }
                job.error = e
                queuedPairs -= job.pairs.count - job.next
                job.next = job.pairs.count
                job.remaining = 0
                jobs.removeAll { $0 === job }
                finished.append(job)
            }
        }
        return finished
    }
}
