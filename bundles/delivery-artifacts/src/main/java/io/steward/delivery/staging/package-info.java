/**
 * Staging an add-on's artifact into its home and swapping {@code current} ({@link io.steward.delivery.staging.Stager},
 * the {@link io.steward.delivery.ArtifactStager} without OSGi): embedded privately by {@code io.steward.delivery},
 * whose {@code DeliveryStager} component configures it, and used directly by the updater's tests and the
 * benchmarks. Not exported. The failures and their dispositions are listed in {@code io.steward.delivery.internal}.
 */
package io.steward.delivery.staging;
