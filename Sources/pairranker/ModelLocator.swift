import Foundation

/// Resolves `--model`: a local directory, or a Hugging Face id (`ORG/NAME`) already in the hub
/// cache (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`), at the commit
/// `refs/main` names.
enum ModelLocator {
    static let defaultModel = "llm-blender/pair-ranker"

    static func hubCache(_ env: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let c = env["HF_HUB_CACHE"], !c.isEmpty { return c }
        if let h = env["HF_HOME"], !h.isEmpty { return h + "/hub" }
        return (env["HOME"] ?? NSHomeDirectory()) + "/.cache/huggingface/hub"
    }

    static func resolve(_ model: String, revision: String = "main") throws -> String {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: model, isDirectory: &isDir), isDir.boolValue { return model }
        let parts = model.split(separator: "/")
        guard parts.count == 2, !model.hasPrefix("/"), !model.hasPrefix(".") else {
            throw ValidationError("--model \(model): no such directory")
        }
        let repo = hubCache() + "/models--\(parts[0])--\(parts[1])"
        let ref = (try? String(contentsOfFile: repo + "/refs/\(revision)", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? revision
        let snapshot = repo + "/snapshots/" + ref
        guard FileManager.default.fileExists(atPath: snapshot) else {
            throw ValidationError("--model \(model): not a directory, and not in the Hugging Face cache at \(repo) "
                                  + "(download it, or pass a local model directory such as Tests/Fixtures/tiny-pair-ranker)")
        }
        return snapshot
    }
}

import ArgumentParser
