package io.steward.health.internal;

import io.steward.observe.StewardObserver;
import io.steward.supervision.HostLayout;
import io.steward.supervision.ReconcileReport;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import org.apache.felix.hc.api.HealthCheck;
import org.apache.felix.hc.api.Result;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's Felix Health Check ({@code hc.name} "Steward agent", tags {@code steward}, {@code steward.agent}):
 * watches passes and updater calls ({@link StewardObserver}) and judges them with {@link Judge#agent}. The agent
 * records what it saw in {@code <data>/state/health.json} after each pass; in a one-shot command (which must not
 * overwrite the agent's record) the check judges that file.
 */
@Component(service = {HealthCheck.class, StewardObserver.class, AgentHealth.class}, configurationPid = AgentHealth.PID,
        property = {HealthCheck.NAME + "=Steward agent", HealthCheck.TAGS + "=steward", HealthCheck.TAGS + "=steward.agent"})
@Designate(ocd = AgentHealth.Config.class)
public final class AgentHealth implements HealthCheck, StewardObserver {
    static final String PID = "io.steward.health";
    private static final Logger LOG = LoggerFactory.getLogger(AgentHealth.class);

    @ObjectClassDefinition(name = "Steward health", description = "When the agent counts as healthy")
    public @interface Config {
        @AttributeDefinition(description = "Seconds after which a missing reconcile pass is critical (passes run "
                + "every interval.seconds of io.steward.core, 30 by default)")
        long max_pass_age_seconds() default 120;
    }

    private final boolean agent;
    private final Path state;
    private final Duration maxPassAge;
    private final Clock clock = Clock.systemUTC();
    private volatile PassRecord record;

    @Activate
    public AgentHealth(BundleContext context, Config config) {
        String command = context.getProperty("steward.command");
        this.agent = command == null || command.isBlank() || command.equals("run");
        this.state = HostLayout.from(context::getProperty).state();
        if (config.max_pass_age_seconds() < 1) {
            throw new IllegalArgumentException("max.pass.age.seconds must be at least 1");
        }
        this.maxPassAge = Duration.ofSeconds(config.max_pass_age_seconds());
        this.record = agent ? PassRecord.started(ProcessHandle.current().pid(), clock.instant()) : null;
    }

    @Override
    public Result execute() {
        return new Result(judge());
    }

    org.apache.felix.hc.api.FormattingResultLog judge() {
        PassRecord r = agent ? record : PassRecord.read(state).orElse(null);
        return Judge.agent(r, r != null && (agent || alive(r)), clock.instant(), maxPassAge);
    }

    @Override
    public void passCompleted(ReconcileReport report) {
        update(r -> r.passed(report.startedAt(), report.warnings()));
    }

    @Override
    public void passFailed(Instant startedAt, Duration took, String reason) {
        update(r -> r.failed(startedAt, reason));
    }

    @Override
    public void updaterCall(String operation, String refusal) {
        // only what says the updater is not there or will not talk to us; a refused request is the add-on's
        boolean reachability = refusal.isEmpty() || refusal.equals("unreachable") || refusal.equals("timeout")
                || refusal.equals("forbidden") || refusal.equals("protocol");
        if (reachability) {
            update(r -> r.updater(clock.instant(), operation, refusal));
        }
    }

    private synchronized void update(java.util.function.UnaryOperator<PassRecord> change) {
        if (!agent) {
            return;     // a one-shot apply's pass is not the agent's
        }
        record = change.apply(record);
        try {
            record.write(state);
        } catch (IOException e) {
            LOG.warn("Health: cannot write {}: {}", state.resolve(PassRecord.FILE), e.getMessage());
        }
    }

    /** The recording process still runs (and is the same process: it started before it recorded). */
    private static boolean alive(PassRecord r) {
        return ProcessHandle.of(r.pid()).filter(ProcessHandle::isAlive)
                .flatMap(p -> p.info().startInstant())
                .map(start -> !start.isAfter(r.agentStarted().plusSeconds(1)))
                .orElse(false);
    }
}
