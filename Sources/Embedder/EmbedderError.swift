/// Everything that can go wrong while loading a model folder or encoding text.
///
/// Every case names the file or tensor at fault, so that a broken model folder can be fixed from the
/// message alone. Loading and encoding never trap: bad input always surfaces as one of these.
public enum EmbedderError: Error, Equatable, Sendable {
    /// A file the model folder must contain is absent.
    case missingFile(path: String)
    /// A file exists but could not be read (permissions, I/O error, not a regular file).
    case unreadableFile(path: String, reason: String)
    /// A file was read but its content is not what its format requires (bad JSON, bad header,
    /// offsets outside the file, a vocabulary without required tokens, ...).
    case malformedFile(path: String, reason: String)
    /// The configuration names a model this runtime does not implement.
    case unsupportedArchitecture(path: String, found: String)
    /// A configuration value is missing or out of range.
    case invalidConfiguration(path: String, reason: String)
    /// A tensor is stored in a dtype this runtime cannot convert to float32.
    case unsupportedDType(tensor: String, dtype: String)
    /// A tensor the architecture needs is not in the weights file.
    case missingTensor(name: String)
    /// A tensor's shape differs from the one the configuration implies.
    case tensorShapeMismatch(name: String, expected: [Int], actual: [Int])
    /// An encode request was invalid (e.g. a batch larger than the configured limit).
    case invalidInput(reason: String)
}

extension EmbedderError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .missingFile(let path): "missing file: \(path)"
        case .unreadableFile(let path, let reason): "cannot read \(path): \(reason)"
        case .malformedFile(let path, let reason): "malformed \(path): \(reason)"
        case .unsupportedArchitecture(let path, let found):
            "unsupported architecture in \(path): \(found) (supported: BERT-family encoders)"
        case .invalidConfiguration(let path, let reason): "invalid configuration in \(path): \(reason)"
        case .unsupportedDType(let tensor, let dtype):
            "tensor \(tensor) has unsupported dtype \(dtype) (supported: F32, F16, BF16)"
        case .missingTensor(let name): "missing tensor \(name) in the weights file"
        case .tensorShapeMismatch(let name, let expected, let actual):
            "tensor \(name) has shape \(actual), expected \(expected)"
        case .invalidInput(let reason): "invalid input: \(reason)"
        }
    }
}
