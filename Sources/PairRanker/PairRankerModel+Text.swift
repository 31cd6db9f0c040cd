import Tokenizer

/// One input to compare or rank candidates for, as text.
public struct RankInput: Sendable, Equatable {
    public var instruction: String?
    public var input: String
    public var candidates: [String]

    public init(instruction: String? = nil, input: String, candidates: [String]) {
        self.instruction = instruction
        self.input = input
        self.candidates = candidates
    }
}

extension PairRankerModel {
    /// The text handling of llm-blender (docs/model.md §1): source = instruction + input (no separator),
    /// the `<|source|>` / `<|candidate|>` prefixes, every literal `[SEP]` replaced by a space;
    /// then each segment tokenized whole and truncated per input (batch_size = 1).
    public func segments(_ input: RankInput, sourceMaxLength: Int? = nil, candidateMaxLength: Int? = nil) throws -> Segments {
        let asm = try assembler(sourceMaxLength: sourceMaxLength, candidateMaxLength: candidateMaxLength)
        let source = sourceIDs(instruction: input.instruction, input: input.input)
        return try asm.segments(source: source, candidates: input.candidates.map(candidateIDs))
    }

    public func sourceIDs(instruction: String?, input: String) -> [Int32] {
        tokenizer.encode(Self.scrub(SpecialTokens.sourcePrefix + (instruction ?? "") + input))
    }

    public func candidateIDs(_ text: String) -> [Int32] {
        tokenizer.encode(Self.scrub(SpecialTokens.candidatePrefix + text))
    }

    /// The assembler for per-request lengths, which may lower the model's limits but not raise them.
    public func assembler(sourceMaxLength: Int?, candidateMaxLength: Int?) throws -> PairAssembler {
        let s = sourceMaxLength ?? assembler.sourceMaxLength, c = candidateMaxLength ?? assembler.candidateMaxLength
        guard (3...assembler.sourceMaxLength).contains(s) else {
            throw PairRankerError.invalidArgument(field: "source_max_length",
                                                  message: "must be between 3 and the model's \(assembler.sourceMaxLength), got \(s)")
        }
        guard (3...assembler.candidateMaxLength).contains(c) else {
            throw PairRankerError.invalidArgument(field: "candidate_max_length",
                                                  message: "must be between 3 and the model's \(assembler.candidateMaxLength), got \(c)")
        }
        if s == assembler.sourceMaxLength && c == assembler.candidateMaxLength { return assembler }
        return PairAssembler(tokens: assembler.tokens, sourceMaxLength: s, candidateMaxLength: c)
    }

    /// Python's `text.replace("[SEP]", " ")`, on code units: Swift's own string search compares
    /// grapheme clusters, so "[SEP]" followed by a combining mark would not match there.
    static func scrub(_ text: String) -> String {
        let pattern = Array("[SEP]".utf8)
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0, changed = false
        while i < bytes.count {
            if bytes[i] == 0x5B, i + 5 <= bytes.count, bytes[i..<(i + 5)].elementsEqual(pattern) {
                out.append(0x20)
                i += 5
                changed = true
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return changed ? String(decoding: out, as: UTF8.self) : text
    }
}
