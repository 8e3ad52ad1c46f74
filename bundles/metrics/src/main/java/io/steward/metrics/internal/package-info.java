/** The metrics bundle's implementation; nothing is exported. */
package io.steward.metrics.internal;
