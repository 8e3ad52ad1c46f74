/** The deploy/ verification bundle's implementation; nothing is exported. */
package io.steward.deploy.internal;
