"""The performance toolkit: query capture, N+1 detection, workloads, profiler and the gate."""
