"""``verenigingen perf validate``: the optimizations judged against the plan's criteria, with
the optimizations off and on measured in the same run (:mod:`.suite`)."""
