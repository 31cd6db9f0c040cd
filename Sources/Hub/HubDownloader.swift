import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

public struct HubError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
}

/// Fetches a model's files from the Hugging Face Hub into the standard cache layout, shared with
/// the Python tools: `models--ORG--NAME/blobs/<etag>`, `snapshots/<commit>/<file>` (relative
/// symlinks to the blobs) and `refs/<revision>`. Downloads go in ranged chunks to
/// `<blob>.incomplete`, so a dropped connection or an interrupted run resumes where it stopped;
/// sizes, and the SHA-256 of LFS files, are checked against the hub's metadata before a blob is
/// committed. Honours HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE.
public struct HubDownloader {
    public struct Options {
        public var endpoint = "https://huggingface.co"
        public var token: String?
        public var offline = false
        public var cache: String
        public var chunkBytes = 16 << 20
        public var retries = 5
        public var log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        public var progressBar = isatty(2) != 0

        public init(environment env: [String: String] = ProcessInfo.processInfo.environment) {
            if let e = env["HF_ENDPOINT"], !e.isEmpty { endpoint = e.hasSuffix("/") ? String(e.dropLast()) : e }
            if let t = env["HF_TOKEN"], !t.isEmpty { token = t }
            offline = ["1", "true", "yes", "on"].contains((env["HF_HUB_OFFLINE"] ?? "").lowercased())
            cache = Self.hubCache(env)
        }

        public static func hubCache(_ env: [String: String]) -> String {
            if let c = env["HF_HUB_CACHE"], !c.isEmpty { return c }
            if let h = env["HF_HOME"], !h.isEmpty { return h + "/hub" }
            return (env["HOME"] ?? NSHomeDirectory()) + "/.cache/huggingface/hub"
        }
    }

    /// The files a PairRanker model directory may use; the weights are chosen separately.
    public static let modelFiles = ["config.json", "ranker_config.json", "tokenizer.json", "tokenizer_config.json",
                                    "special_tokens_map.json", "added_tokens.json", "spm.model"]

    public let options: Options
    public init(options: Options) { self.options = options }

    func repoDirectory(_ repo: String) -> String {
        options.cache + "/models--" + repo.replacingOccurrences(of: "/", with: "--")
    }

    /// The cached snapshot for `revision`, if the cache has one.
    public func cachedSnapshot(repo: String, revision: String = "main") -> String? {
        let dir = repoDirectory(repo)
        let commit = (try? String(contentsOfFile: dir + "/refs/" + revision, encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? revision
        let snap = dir + "/snapshots/" + commit
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: snap, isDirectory: &isDir), isDir.boolValue else { return nil }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: snap)) ?? []
        return files.contains("model.safetensors") || files.contains("pytorch_model.bin") ? snap : nil
    }

    /// Downloads what is missing and returns the snapshot directory.
    @discardableResult
    public func download(repo: String, revision: String = "main") throws -> String {
        guard repo.split(separator: "/").count == 2, !repo.contains("..") else {
            throw HubError(message: "'\(repo)' is not a hub id of the form ORG/NAME")
        }
        if options.offline {
            guard let snap = cachedSnapshot(repo: repo, revision: revision) else {
                throw HubError(message: "HF_HUB_OFFLINE is set and \(repo)@\(revision) is not in the cache at \(repoDirectory(repo))")
            }
            return snap
        }
        let metaURL = "\(options.endpoint)/api/models/\(repo)/revision/\(revision)?blobs=true"
        let (status, _, body) = try get(metaURL, range: nil)
        try check(status, what: "\(repo)@\(revision)")
        guard let meta = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any], let commit = meta["sha"] as? String,
              let siblings = meta["siblings"] as? [[String: Any]] else {
            throw HubError(message: "\(metaURL): unexpected metadata (no sha or siblings)")
        }
        let byName = Dictionary(siblings.compactMap { s in (s["rfilename"] as? String).map { ($0, s) } }, uniquingKeysWith: { a, _ in a })
        var wanted = Self.modelFiles.filter { byName[$0] != nil }
        if byName["model.safetensors"] != nil { wanted.append("model.safetensors") } else if byName["pytorch_model.bin"] != nil {
            wanted.append("pytorch_model.bin")
        } else {
            throw HubError(message: "\(repo)@\(revision) has neither model.safetensors nor pytorch_model.bin")
        }
        let dir = repoDirectory(repo)
        let snap = dir + "/snapshots/" + commit
        try FileManager.default.createDirectory(atPath: dir + "/blobs", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: snap, withIntermediateDirectories: true)
        for name in wanted { try fetch(repo: repo, commit: commit, file: name, info: byName[name]!, dir: dir, snapshot: snap) }
        if revision != commit {
            try FileManager.default.createDirectory(atPath: dir + "/refs", withIntermediateDirectories: true)
            try Data(commit.utf8).write(to: URL(fileURLWithPath: dir + "/refs/" + revision))
        }
        return snap
    }

    private func fetch(repo: String, commit: String, file: String, info: [String: Any], dir: String, snapshot: String) throws {
        let lfs = info["lfs"] as? [String: Any]
        let sha256 = lfs?["sha256"] as? String ?? (lfs?["oid"] as? String)
        guard let size = (lfs?["size"] as? Int) ?? (info["size"] as? Int),
              let etag = sha256 ?? (info["blobId"] as? String), !etag.contains("/"), !etag.contains("..") else {
            throw HubError(message: "\(repo)/\(file): the hub's metadata gives no size or blob id")
        }
        let blob = dir + "/blobs/" + etag
        let link = snapshot + "/" + file
        let fm = FileManager.default
        if let attrs = try? fm.attributesOfItem(atPath: blob), (attrs[.size] as? Int) == size {
            try linkSnapshot(link, to: "../../blobs/" + etag)
            options.log("\(file): cached (\(size) bytes)")
            return
        }
        let partial = blob + ".incomplete"
        if !fm.fileExists(atPath: partial) { fm.createFile(atPath: partial, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: partial) else { throw HubError(message: "\(partial): cannot write") }
        defer { try? handle.close() }
        var offset = Int(handle.seekToEndOfFile())
        if offset > size { handle.truncateFile(atOffset: 0); offset = 0 }
        if offset > 0 { options.log("\(file): resuming at byte \(offset) of \(size)") }
        let url = "\(options.endpoint)/\(repo)/resolve/\(commit)/\(file)"
        let start = Date(), startOffset = offset
        var failures = 0
        var lastDraw = Date.distantPast
        while offset < size {
            let end = min(offset + options.chunkBytes, size) - 1
            do {
                let (status, _, data) = try get(url, range: offset...end)
                try check(status, what: "\(repo)/\(file)")
                guard status == 206 || (status == 200 && offset == 0) else {
                    throw HubError(message: "\(url): the server ignored the byte range (status \(status))")
                }
                let chunk = status == 200 ? data.prefix(end - offset + 1) : data
                guard !chunk.isEmpty else { throw HubError(message: "\(url): empty response for bytes \(offset)-\(end)") }
                handle.write(chunk)
                offset += chunk.count
                failures = 0
                if options.progressBar && Date().timeIntervalSince(lastDraw) > 0.2 {
                    lastDraw = Date()
                    drawBar(file: file, done: offset, total: size, startOffset: startOffset, since: start)
                }
            } catch let e as HubError where e.message.hasPrefix("transfer:") {
                failures += 1
                guard failures <= options.retries else {
                    throw HubError(message: "\(repo)/\(file): \(e.message) (gave up after \(options.retries) retries at byte \(offset); run again to resume)")
                }
                options.log("\(file): \(e.message); retrying from byte \(offset)")
                Thread.sleep(forTimeInterval: min(0.2 * Double(failures), 2))
            }
        }
        try handle.synchronize()
        if options.progressBar { FileHandle.standardError.write(Data("\n".utf8)) }
        let elapsed = max(Date().timeIntervalSince(start), 1e-9)
        if let sha256 {
            let got = try Self.sha256(file: partial)
            guard got == sha256 else {
                try? fm.removeItem(atPath: partial)
                throw HubError(message: "\(repo)/\(file): SHA-256 mismatch (expected \(sha256), got \(got)); the corrupt download was deleted")
            }
        }
        let actual = (try fm.attributesOfItem(atPath: partial)[.size] as? Int) ?? -1
        guard actual == size else {
            try? fm.removeItem(atPath: partial)
            throw HubError(message: "\(repo)/\(file): size mismatch (expected \(size) bytes, got \(actual))")
        }
        try? fm.removeItem(atPath: blob)
        try fm.moveItem(atPath: partial, toPath: blob)
        try linkSnapshot(link, to: "../../blobs/" + etag)
        options.log(String(format: "%@: %d bytes in %.1f s (%.1f MB/s)%@", file, size - startOffset, elapsed,
                           Double(size - startOffset) / elapsed / 1e6, sha256 == nil ? "" : ", SHA-256 verified"))
    }

    private func drawBar(file: String, done: Int, total: Int, startOffset: Int, since: Date) {
        let rate = Double(done - startOffset) / max(Date().timeIntervalSince(since), 1e-9)
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let width = 30, filled = Int(Double(width) * Double(done) / Double(max(total, 1)))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        FileHandle.standardError.write(Data(String(format: "\r%@ [%@] %.1f/%.1f MB %.1f MB/s ETA %.0f s", file, bar,
                                                   Double(done) / 1e6, Double(total) / 1e6, rate / 1e6, eta).utf8))
    }

    private func linkSnapshot(_ link: String, to target: String) throws {
        let fm = FileManager.default
        if (try? fm.destinationOfSymbolicLink(atPath: link)) == target { return }
        try? fm.removeItem(atPath: link)
        try fm.createSymbolicLink(atPath: link, withDestinationPath: target)
    }

    private func check(_ status: Int, what: String) throws {
        switch status {
        case 200, 206: return
        case 401, 403: throw HubError(message: "\(what): access denied (status \(status)); set HF_TOKEN for gated or private models")
        case 404: throw HubError(message: "\(what): not found on \(options.endpoint) (status 404)")
        default: throw HubError(message: "transfer: \(what): status \(status)")
        }
    }

    /// One GET (redirects followed), synchronously. Transport failures are `transfer:` errors,
    /// which the caller retries.
    func get(_ url: String, range: ClosedRange<Int>?) throws -> (Int, [String: String], Data) {
        guard let u = URL(string: url) else { throw HubError(message: "bad URL \(url)") }
        var req = URLRequest(url: u, timeoutInterval: 60)
        if let token = options.token { req.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let range { req.setValue("bytes=\(range.lowerBound)-\(range.upperBound)", forHTTPHeaderField: "Range") }
        req.setValue("pairranker", forHTTPHeaderField: "User-Agent")
        // @unchecked: the completion handler writes the box once, before `done.signal()`, and
        // this thread reads it only after `done.wait()`.
        final class Box: @unchecked Sendable { var result: (Int, [String: String], Data)?; var error: Error? }
        let box = Box()
        /// A one-shot completion signal: the data task's handler signals it once.
        let done = DispatchSemaphore(value: 0)
        let task = URLSession.shared.dataTask(with: req) { data, response, error in
            if let error { box.error = error } else if let http = response as? HTTPURLResponse {
                var headers: [String: String] = [:]
                for (k, v) in http.allHeaderFields { headers["\(k)".lowercased()] = "\(v)" }
                box.result = (http.statusCode, headers, data ?? Data())
            }
            done.signal()
        }
        task.resume()
        done.wait()
        if let error = box.error { throw HubError(message: "transfer: \(url): \(error.localizedDescription)") }
        guard var result = box.result else { throw HubError(message: "transfer: \(url): no response") }
        // A body shorter than the range asked for is a dropped connection.
        if let range, result.0 == 206, result.2.count < range.count {
            if result.2.isEmpty { throw HubError(message: "transfer: \(url): connection dropped") }
            result.0 = 206
        }
        return result
    }

    public static func sha256(file: String) throws -> String {
        guard let h = FileHandle(forReadingAtPath: file) else { throw HubError(message: "\(file): cannot read") }
        defer { try? h.close() }
        var sha = SHA256()
        while true {
            let chunk = h.readData(ofLength: 4 << 20)
            if chunk.isEmpty { break }
            sha.update(chunk)
        }
        return sha.finalize()
    }
}
