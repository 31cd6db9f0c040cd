import Checkpoints
import DeBERTa
import Foundation
import Tensors
import Tokenizer

/// The loaded PairRanker: DeBERTa backbone + pair head, and what it needs to assemble inputs.
/// `logits(_:)` is the one entry to the model; calls are serialised by `BLAS.exclusive`, inside
/// which the one workspace is used (the batching engine is its only caller in the server).
// @unchecked: every property is a `let` of a Sendable type but `headScratch`, which, like the
// workspace's contents, is only touched inside `BLAS.exclusive` (one thread at a time).
public final class PairRankerModel: @unchecked Sendable {
    public let directory: ModelDirectory
    public let backbone: DebertaV2Model
    public let assembler: PairAssembler
    public let tokenizer: Tokenizer
    /// Checkpoint keys no module used (e.g. `position_ids` of transformers < 4.31 saves).
    public let unusedKeys: [String]
    public let loadSeconds: Double
    let head: PairHead
    /// The one workspace and the head's scratch: used only inside `BLAS.exclusive`, which lets
    /// one forward run at a time per process (so no lock of the model's own is held across a
    /// call into DeBERTa).
    let workspace: Workspace
    private var headScratch = FloatBuffer(count: 0)

    /// How the dense layers run a batch's rows (Workspace.GEMMRows): whichever keeps a pair's
    /// logit independent of the batch on the loaded OpenBLAS kernels.
    public var gemmRows: Workspace.GEMMRows { workspace.gemmRows }

    /// What the encoder's dense layers run in (the head is float32 in both).
    public var precision: Precision { backbone.precision }

    /// The GEMM the encoder's dense layers run under fp32 (`FloatKernel.active` at load), nil
    /// under int8.
    public var floatKernel: FloatKernel? { backbone.floatKernel }
    /// The float32 GEMM attention's products run on, under either precision.
    public var attentionKernel: FloatKernel { backbone.attentionKernel }

    public convenience init(directory: ModelDirectory, gemmRows: Workspace.GEMMRows = .automatic, precision: Precision = .fp32) throws {
        try self.init(directory: directory, tokenizerJSON: nil, gemmRows: gemmRows, precision: precision)
    }

    /// `tokenizerJSON`: the directory's `tokenizer.json` already parsed (by `ModelDirectory`), or
    /// nil to load the tokenizer from the directory's files.
    init(directory: ModelDirectory, tokenizerJSON: TokenizerJSON?, gemmRows: Workspace.GEMMRows, precision: Precision) throws {
        let start = Date()
        self.directory = directory
        let ckpt = try Checkpoint(path: directory.checkpointPath)
        let weights = WeightLoader(ckpt)
        let maxLength = directory.ranker.maxSequenceLength
        backbone = try DebertaV2Model(weights: weights.scoped(ModelDirectory.backbonePrefix), config: directory.backbone,
                                      maxLength: maxLength, precision: precision)
        head = try PairHead(weights: weights, hidden: directory.backbone.hiddenSize, tasks: directory.ranker.nTasks)
        unusedKeys = weights.unusedKeys
        assembler = PairAssembler(tokens: directory.specialTokens, sourceMaxLength: directory.ranker.sourceMaxLength,
                                  candidateMaxLength: directory.ranker.candidateMaxLength)
        workspace = Workspace(config: directory.backbone, tokens: maxLength, maxLength: maxLength, gemmRows: gemmRows)
        tokenizer = try tokenizerJSON.map { try Tokenizer.load(tokenizerJSON: $0) } ?? Tokenizer.load(directory: directory.path)
        for (name, id) in [(SpecialTokens.sourcePrefix, assembler.tokens.source), (SpecialTokens.candidatePrefix, assembler.tokens.candidate),
                           (SpecialTokens.candidate1Prefix, assembler.tokens.candidate1), (SpecialTokens.candidate2Prefix, assembler.tokens.candidate2)]
        where tokenizer.id(of: name) != id {
            throw PairRankerError.modelDirectory(path: directory.path, message: "the tokenizer gives \(name) id \(tokenizer.id(of: name).map(String.init) ?? "none"), the model expects \(id)")
        }
        loadSeconds = Date().timeIntervalSince(start)
    }

    public convenience init(path: String, checkpoint: String? = nil, gemmRows: Workspace.GEMMRows = .automatic,
                            precision: Precision = .fp32) throws {
        var parsed: TokenizerJSON?
        let directory = try ModelDirectory(path: path, checkpoint: checkpoint, tokenizerJSON: &parsed)
        try self.init(directory: directory, tokenizerJSON: parsed, gemmRows: gemmRows, precision: precision)
    }

    /// One logit per pair sequence (positive: the left candidate is better). The sequences run as
    /// one packed batch; identical sequences are computed once, so identical inputs get
    /// bit-identical logits.
    public func logits(_ pairs: [PairSequence]) throws -> [Float] {
        guard !pairs.isEmpty else { return [] }
        var unique: [PairSequence] = []
        var slot: [PairSequence: Int] = [:]
        let index = pairs.map { p -> Int in
            if let i = slot[p] { return i }
            slot[p] = unique.count
            unique.append(p)
            return unique.count - 1
        }
        var tokens: [Int32] = []
        var rows: [Int] = []
        var offset = 0
        for p in unique {
            tokens += p.ids
            rows += [offset + p.sourcePosition, offset + p.leftPosition, offset + p.rightPosition]
            offset += p.ids.count
        }
        let pooled = unique.indices.map { (3 * $0, 3 * $0 + 1, 3 * $0 + 2) }
        let c = directory.backbone.hiddenSize
        let perPair = workspace.gemmRows == .perSequence
        let scratch = head.scratchRows(pairs: unique.count, perPair: perPair) * 3 * c
        // The backbone and the head's GEMM in one BLAS.exclusive section (see there), which is
        // also what guards the workspace and `headScratch`.
        let values = try BLAS.exclusive {
            if headScratch.count < scratch { headScratch = FloatBuffer(count: scratch) }
            // The head reads three rows per pair: the last layer computes only those (3P, C).
            let states = try backbone.forward(tokens: tokens, lengths: unique.map(\.ids.count), keepRows: rows,
                                              workspace: workspace)
            return head.logits(states: states, pooled: pooled, scratch: headScratch, perPair: perPair)
        }
        return index.map { values[$0] }
    }
}
