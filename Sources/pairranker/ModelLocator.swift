import ArgumentParser
import Foundation
import Hub

/// Resolves `--model`: a local directory, or a Hugging Face id (`ORG/NAME`): from the hub cache
/// (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`) when it is there,
/// else downloaded into it (unless HF_HUB_OFFLINE is set).
enum ModelLocator {
    static let defaultModel = "llm-blender/pair-ranker"

    static func resolve(_ model: String, revision: String = "main", download: Bool = true) throws -> String {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: model, isDirectory: &isDir), isDir.boolValue { return model }
        let parts = model.split(separator: "/")
        guard parts.count == 2, !model.hasPrefix("/"), !model.hasPrefix(".") else {
            throw ValidationError("--model \(model): no such directory")
        }
        let hub = HubDownloader(options: HubDownloader.Options())
        if let snap = hub.cachedSnapshot(repo: model, revision: revision) { return snap }
        guard download else {
            throw ValidationError("--model \(model): not a directory, and not in the Hugging Face cache at \(hub.options.cache)")
        }
        do {
            return try hub.download(repo: model, revision: revision)
        } catch let e as HubError {
            throw ValidationError("--model \(model): not a local directory, not in the cache at \(hub.options.cache), and the download failed: \(e.message). "
                                  + "Pass a local model directory such as Tests/Fixtures/tiny-pair-ranker.")
        }
    }
}
