import Foundation
import PairRanker

/// Runs pairs straight through the model on the caller's thread.
public final class DirectEngine: InferenceEngine, Sendable {
    let model: PairRankerModel
    public init(model: PairRankerModel) { self.model = model }
    /// No capacity to hold: every request is admitted, and its admission releases nothing.
    public func admit(pairs: Int, context: RequestContext) throws -> Admission { Admission(pairs: pairs) }
    public func evaluate(_ pairs: [PairSequence], context: RequestContext) throws -> [Float] {
        let start = DispatchTime.now().uptimeNanoseconds
        let out = try model.logits(pairs)
        context.record(queue: 0, inference: DispatchTime.now().uptimeNanoseconds - start, pairs: pairs.count,
                       tokens: pairs.reduce(0) { $0 + $1.ids.count })
        return out
    }
}
