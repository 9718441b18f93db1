"""Performance benchmarks: throughput and latency per endpoint, signing cost, behaviour at scale."""
