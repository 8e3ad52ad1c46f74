package io.steward.helper;

import io.steward.supervision.AddonId;
import org.osgi.annotation.versioning.ProviderType;

/**
 * One assigned {@code ephemeral_helper} add-on, ready to run on demand. Registered by the kind's
 * bundle while the add-on is assigned, with the service properties {@link #ADDON_ID} and
 * {@link #ADDON_VERSION}; look it up with a filter such as {@code (addon.id=rdp-adapter)}.
 * <p>
 * Each {@link #run} starts the staged program in a process group of its own, waits for it, and kills
 * the whole group when it times out or when it exits leaving processes behind: a helper never keeps
 * running after its run. Thread-safe: runs may be requested concurrently, up to a per-helper limit
 * that the kind's configuration sets; requests beyond it fail at once ({@link HelperException.Reason#BUSY})
 * rather than queue.
 *
 * @since 1.0.0
 */
@ProviderType
public interface AddonHelper {
    /** Service property (String): the add-on id of the helper. */
    String ADDON_ID = "addon.id";
    /** Service property (String): the version of the helper in effect. */
    String ADDON_VERSION = "addon.version";
    /**
     * Environment variable every run gets: the add-on id. It cannot be overridden by the assignment or
     * by a request.
     */
    String ENV_ADDON_ID = "STEWARD_ADDON_ID";
    /**
     * Environment variable every run gets: the add-on's result spool ({@code <data>/addons/<id>/spool}), where a
     * run leaves {@code *.jsonl} result files (written as {@code *.tmp}, then renamed) for the agent to ingest. It
     * cannot be overridden by the assignment or by a request.
     */
    String ENV_ADDON_SPOOL = "STEWARD_ADDON_SPOOL";

    /** The add-on this helper belongs to; never {@code null}. */
    AddonId addon();

    /** The version of the helper in effect; never {@code null}. */
    String version();

    /**
     * Runs the helper once and waits for it: the program gets the assignment's {@code args} followed by
     * {@link HelperRequest#args()}, the request's stdin (then end of file), and an environment made of a
     * fixed {@code PATH}, the assignment's {@code env}, the request's {@link HelperRequest#env()} and
     * {@link #ENV_ADDON_ID}. stdout and stderr are captured up to a configured cap each (the rest is read
     * and discarded, see {@link HelperResult#stdoutTruncated()}).
     * <p>
     * A non-zero exit and a timeout are results, not exceptions: see {@link HelperResult#exitCode()} and
     * {@link HelperResult#timedOut()}.
     *
     * @param request what to run with; not {@code null}
     * @return how the run ended; never {@code null}
     * @throws HelperException when the run could not take place or was cut short: too many runs of this
     *                         helper in flight, the helper removed or its bundle stopping, the program
     *                         not startable, the run killed by a removal, or the calling thread interrupted
     *                         (its interrupt flag is then set again)
     */
    HelperResult run(HelperRequest request) throws HelperException;
}
