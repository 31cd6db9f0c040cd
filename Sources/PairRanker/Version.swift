public enum PairRankerVersion { public static let string = "0.1.0" }
