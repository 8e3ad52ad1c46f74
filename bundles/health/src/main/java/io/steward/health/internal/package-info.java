/** The health bundle's implementation; nothing is exported. */
package io.steward.health.internal;
