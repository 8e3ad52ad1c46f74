package io.steward.oneshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.steward.supervision.CommandResult;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.launch.FrameworkFactory;

/** One run of a one-shot command in a real Felix framework: the result is the service the launcher waits for. */
class OneShotRunTest {
    private static final String RESULT = "(" + CommandResult.EXIT + "=*)";

    @TempDir
    Path storage;

    private Framework framework;
    private BundleContext context;

    @BeforeEach
    void start() throws Exception {
        framework = ServiceLoader.load(FrameworkFactory.class).findFirst().orElseThrow()
                .newFramework(Map.of(Constants.FRAMEWORK_STORAGE, storage.toString(),
                        Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT));
        framework.start();
        context = framework.getBundleContext();
    }

    @AfterEach
    void stop() throws Exception {
        framework.stop();
        framework.waitForStop(10_000);
    }

    private List<ServiceReference<?>> results() {
        try {
            ServiceReference<?>[] refs = context.getServiceReferences((String) null, RESULT);
            return refs == null ? List.of() : List.of(refs);
        } catch (InvalidSyntaxException e) {
            throw new AssertionError(e);
        }
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        try {
            Awaitility.await(what).atMost(Duration.ofSeconds(30)).pollDelay(Duration.ZERO)
                    .pollInterval(Duration.ofMillis(20)).pollInSameThread().until(condition::getAsBoolean);
        } catch (ConditionTimeoutException e) {
            throw new AssertionError("timed out waiting until " + what, e);
        }
    }

    private ServiceReference<?> awaitResult() throws InterruptedException {
        await("the result is registered", () -> !results().isEmpty());
        assertEquals(1, results().size());
        return results().get(0);
    }

    @Test
    void theWorkRunsOnceOnItsOwnNamedDaemonThreadAndItsResultIsRegistered() throws Exception {
        AtomicReference<Thread> ranOn = new AtomicReference<>();
        OneShotRun run = new OneShotRun(context, "test-oneshot", () -> {
            ranOn.set(Thread.currentThread());
            return new CommandResult(0, "converged\n", "steward: warning: w");
        });
        ServiceReference<?> r = awaitResult();
        assertEquals(0, r.getProperty(CommandResult.EXIT));
        assertEquals("converged\n", r.getProperty(CommandResult.STDOUT));
        assertEquals("steward: warning: w", r.getProperty(CommandResult.STDERR));
        assertEquals("test-oneshot", ranOn.get().getName());
        assertTrue(ranOn.get().isDaemon(), "a stuck command must not keep the JVM alive");
        run.close();
        assertEquals(List.of(), results(), "close withdraws the result");
    }

    @Test
    void aWorkThatThrowsIsAFailureWithOneLine() throws Exception {
        OneShotRun run = new OneShotRun(context, "test-oneshot", () -> {
            throw new IllegalStateException("no ledger");
        });
        ServiceReference<?> r = awaitResult();
        assertEquals(1, r.getProperty(CommandResult.EXIT));
        assertEquals("", r.getProperty(CommandResult.STDOUT));
        assertEquals("steward: test-oneshot failed: java.lang.IllegalStateException: no ledger",
                r.getProperty(CommandResult.STDERR));
        run.close();
    }

    @Test
    void closeInterruptsAWorkStillRunningAndLeavesNoResult() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        AtomicBoolean interrupted = new AtomicBoolean();
        OneShotRun run = new OneShotRun(context, "test-oneshot", () -> {
            started.countDown();
            try {
                new CountDownLatch(1).await();     // a reconcile that never ends
                return new CommandResult(0, "", "");
            } catch (InterruptedException e) {
                interrupted.set(true);
                return new CommandResult(1, "", "steward: apply was interrupted");
            }
        });
        started.await();
        run.close();
        assertTrue(interrupted.get(), "the work saw the interrupt");
        assertEquals(List.of(), results(), "whatever it returned is withdrawn");
    }

    @Test
    void aResultReadyAfterTheFrameworkStoppedIsDroppedQuietly() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        AtomicReference<Thread> worker = new AtomicReference<>();
        AtomicReference<Throwable> uncaught = new AtomicReference<>();
        Thread.UncaughtExceptionHandler previous = Thread.getDefaultUncaughtExceptionHandler();
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> uncaught.set(e));
        try {
            OneShotRun run = new OneShotRun(context, "test-oneshot", () -> {
                worker.set(Thread.currentThread());
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return new CommandResult(0, "late", "");
            });
            await("the work started", () -> worker.get() != null);
            framework.stop();
            framework.waitForStop(10_000);
            release.countDown();
            worker.get().join(10_000);
            assertFalse(worker.get().isAlive());
            assertEquals(null, uncaught.get(), "registering into a stopped framework is not an error");
            run.close();
        } finally {
            Thread.setDefaultUncaughtExceptionHandler(previous);
        }
    }
}
