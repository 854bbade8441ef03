//! KPIs per endpoint and per client (volume, rate, status mix, error rate, availability,
//! exact latency percentiles, sizes), client identity applied, abusive-pattern detectors,
//! journeys and retention. Accumulators stream: memory stays flat however large the input.
