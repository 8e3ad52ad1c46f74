package io.steward.systemd.bus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class GroupCommitTest {
    private final ExecutorService pool = Executors.newCachedThreadPool();
    private final GroupCommit<IOException> commit = new GroupCommit<>(() -> new IOException("interrupted"));

    @AfterEach
    void stop() {
        pool.shutdownNow();
    }

    @Test
    void callersThatArriveDuringARunShareTheNextOne() throws Exception {
        AtomicInteger runs = new AtomicInteger();
        CountDownLatch firstRunning = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Future<?> first = pool.submit(() -> {
            commit.run(() -> {
                runs.incrementAndGet();
                firstRunning.countDown();
                await(release);         // holds the first run until the others are waiting
            });
            return null;
        });
        assertTrue(firstRunning.await(10, TimeUnit.SECONDS));
        List<Future<?>> others = new ArrayList<>();
        List<Thread> waiting = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            others.add(pool.submit(() -> {
                synchronized (waiting) {
                    waiting.add(Thread.currentThread());
                }
                commit.run(runs::incrementAndGet);
                return null;
            }));
        }
        awaitWaiting(waiting, 7);
        release.countDown();
        first.get(10, TimeUnit.SECONDS);
        for (Future<?> f : others) {
            f.get(10, TimeUnit.SECONDS);
        }
        assertEquals(2, runs.get(), "the first run, then one run shared by the seven that came during it");
    }

    @Test
    void aFailedRunFailsItsCallerOnlyAndTheNextCallerRunsAgain() throws Exception {
        assertThrows(IOException.class, () -> commit.run(() -> {
            throw new IOException("reload failed");
        }));
        AtomicInteger runs = new AtomicInteger();
        commit.run(runs::incrementAndGet);
        commit.run(runs::incrementAndGet);
        assertEquals(2, runs.get(), "a caller after a finished run always gets a run of its own");
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Until n callers are blocked in run() (WAITING on the monitor), with a deadline. */
    private static void awaitWaiting(List<Thread> threads, int n) throws InterruptedException {
        try {
            Awaitility.await().atMost(Duration.ofSeconds(10)).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(10))
                    .pollInSameThread().until(() -> {
                        synchronized (threads) {
                            return threads.size() == n && threads.stream().allMatch(t -> t.getState() == Thread.State.WAITING);
                        }
                    });
        } catch (ConditionTimeoutException e) {
            synchronized (threads) {
                fail("callers blocked in run(): " + threads.size(), e);
            }
        }
    }
}
