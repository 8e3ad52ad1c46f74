/**
 * How a bundle serves one of the launcher's one-shot commands. Not a bundle of its own at run time: each bundle
 * that serves a command embeds a private copy of this package ({@code -conditionalpackage}), so nothing is
 * exported and each can be updated on its own.
 */
package io.steward.oneshot;
