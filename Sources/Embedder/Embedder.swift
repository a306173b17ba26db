import VectorMath
