package io.steward.updater;

import io.steward.privileged.protocol.Protocol;

/**
 * A request the updater refuses before (or instead of) doing anything: a protocol {@link Protocol} error code,
 * a one-line message and whether retrying the same request can succeed.
 */
final class Refusal extends Exception {
    private static final long serialVersionUID = 1L;

    private final String code;
    private final boolean permanent;

    Refusal(String code, String message, boolean permanent) {
        super(message);
        this.code = code;
        this.permanent = permanent;
    }

    /** An argument that breaks a rule: permanent, code {@value Protocol#E_INVALID}. */
    static Refusal invalid(String message) {
        return new Refusal(Protocol.E_INVALID, message, true);
    }

    /** A malformed request: permanent, code {@value Protocol#E_MALFORMED}. */
    static Refusal malformed(String message) {
        return new Refusal(Protocol.E_MALFORMED, message, true);
    }

    String code() {
        return code;
    }

    boolean permanent() {
        return permanent;
    }
}
