import Testing
@testable import Embedder

