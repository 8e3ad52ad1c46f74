/**
 * What the agent and the operator share of the NATS fleet transport: how an agent follows its key
 * ({@link io.steward.source.nats.fleet.AssignmentWatch}), the operator's buckets, puts and status reads
 * ({@link io.steward.source.nats.fleet.FleetController}), the results stream
 * ({@link io.steward.source.nats.fleet.ResultsStream}), and the waits that spread a fleet out
 * ({@link io.steward.source.nats.fleet.Jitter}). Not exported: embedded privately by {@code io.steward.source.nats};
 * {@code bench/}'s {@code FleetBench} drives the same classes on a plain class path.
 */
package io.steward.source.nats.fleet;
