import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// An HTTP/1.1 client over a blocking POSIX socket, run on a thread of its own, with no read
/// timeout: in the full test run other suites can keep the cooperative pool busy for longer than
/// HummingbirdTesting's live client waits. One request per connection (`Connection: close`).
public enum BlockingHTTP {
    /// A parsed response.
    public struct Reply: Sendable {
        /// The status code.
        public let status: Int
        /// Header fields, lowercased names.
        public let headers: [String: String]
        /// The body (de-chunked).
        public let body: Data
        /// The body as UTF-8.
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// A socket call failed or the response was malformed.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// One request on a new connection, on a thread of its own.
    public static func send(port: Int, _ method: String, _ path: String, json: String? = nil) async throws -> Reply {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try exchange(port: port, method, path, json: json) })
            }
            thread.start()
        }
    }

    /// A port that was free a moment ago (bind to 0, read it, close).
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(fd, raw, length) == 0 && getsockname(fd, raw, &length) == 0
            }
        }
        guard bound else { throw Failure(description: "bind") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A connected TCP socket to 127.0.0.1:`port`, with send and receive timeouts when given.
    public static func connectSocket(port: Int, timeoutSeconds: Int? = nil) throws -> Int32 {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { throw Failure(description: "socket() failed") }
        if let timeoutSeconds {
            var time = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            setsockopt(socketFD, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(socketFD, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let status = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard status == 0 else {
            close(socketFD)
            throw Failure(description: "connect to port \(port) failed")
        }
        return socketFD
    }

    /// Writes all of `bytes`; throws when the socket refuses or the send timeout passes.
    public static func sendAll(_ socketFD: Int32, _ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(socketFD, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw Failure(description: "send failed after \(sent) of \(bytes.count) bytes (errno \(errno))") }
            sent += count
        }
    }

    /// Reads until the peer closes (or the receive timeout passes) and parses the response.
    public static func readReply(_ socketFD: Int32) throws -> Reply {
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(socketFD, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            response += buffer[0..<count]
        }
        return try parse(response)
    }

    /// One request, `Connection: close`, on a new connection; `timeoutSeconds` bounds each send and receive.
    public static func exchange(
        port: Int, _ method: String, _ path: String, json: String?, headers extra: [String] = [], timeoutSeconds: Int? = nil
    ) throws -> Reply {
        let socketFD = try connectSocket(port: port, timeoutSeconds: timeoutSeconds)
        defer { close(socketFD) }
        let body = Array((json ?? "").utf8)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\nContent-Length: \(body.count)\r\n"
        if json != nil { head += "Content-Type: application/json\r\n" }
        for line in extra { head += line + "\r\n" }
        try sendAll(socketFD, Array((head + "\r\n").utf8) + body)
        return try readReply(socketFD)
    }

    /// Parses a whole response (head and body).
    public static func parse(_ response: [UInt8]) throws -> Reply {
        guard
            let end = (0..<max(0, response.count - 3)).first(where: {
                response[$0] == 13 && response[$0 + 1] == 10 && response[$0 + 2] == 13 && response[$0 + 3] == 10
            })
        else { throw Failure(description: "no complete response head") }
        let lines = String(decoding: response[0..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, let code = Int(statusParts[1]) else { throw Failure(description: "bad status line") }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var payload = Array(response[(end + 4)...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { payload = try dechunk(payload) }
        return Reply(status: code, headers: headers, body: Data(payload))
    }

    /// Decodes a chunked body.
    public static func dechunk(_ bytes: [UInt8]) throws -> [UInt8] {
        var output: [UInt8] = []
        var position = 0
        while position < bytes.count {
            guard let lineEnd = (position..<max(position, bytes.count - 1)).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }),
                let size = Int(String(decoding: bytes[position..<lineEnd], as: UTF8.self).split(separator: ";").first ?? "", radix: 16)
            else { throw Failure(description: "bad chunk header") }
            if size == 0 { break }
            let start = lineEnd + 2
            guard start + size <= bytes.count else { throw Failure(description: "truncated chunk") }
            output += bytes[start..<(start + size)]
            position = start + size + 2
        }
        return output
    }
}
