package io.steward.updater;

import com.google.gson.JsonObject;
import io.steward.privileged.protocol.Protocol;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketCredentials;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves the socket: thread {@code updater-accept} accepts a connection and checks the peer's credentials
 * ({@code SO_PEERCRED}: uid and gid must be the agent's; anyone else gets {@value Protocol#E_FORBIDDEN} and is
 * disconnected before anything is read); threads {@code updater-worker-N} read one request (at most
 * {@value Protocol#MAX_REQUEST_BYTES} bytes, within the read deadline), hand it to the {@link Handler} and write
 * the answer. A full worker pool answers {@value Protocol#E_BUSY} (transient): the acceptor writes the answer and
 * shuts the output down at once, and threads {@code updater-busy-N} read and discard what the peer still sends
 * before closing (a unix socket closed with unread data resets the connection, and a peer still writing its
 * request would see {@code EPIPE}); when they are saturated as well, the connection is closed right away.
 */
final class Server implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Server.class);
    private static final int BUSY_THREADS = 2;
    private static final int BUSY_QUEUE = 1024;

    private final AFUNIXServerSocket socket;
    private final Handler handler;
    private final long agentUid;
    private final long agentGid;
    private final Duration readTimeout;
    private final ThreadPoolExecutor workers;
    private final ThreadPoolExecutor drainers;
    private final Thread acceptor;
    private volatile boolean closed;

    Server(AFUNIXServerSocket socket, Handler handler, long agentUid, long agentGid, Duration readTimeout, int workers) {
        this.socket = socket;
        this.handler = handler;
        this.agentUid = agentUid;
        this.agentGid = agentGid;
        this.readTimeout = readTimeout;
        AtomicInteger n = new AtomicInteger();
        this.workers = new ThreadPoolExecutor(workers, workers, 30, TimeUnit.SECONDS, new ArrayBlockingQueue<>(workers * 4),
                r -> new Thread(r, "updater-worker-" + n.incrementAndGet()));
        AtomicInteger b = new AtomicInteger();
        this.drainers = new ThreadPoolExecutor(BUSY_THREADS, BUSY_THREADS, 30, TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(BUSY_QUEUE), r -> new Thread(r, "updater-busy-" + b.incrementAndGet()));
        this.acceptor = new Thread(this::acceptLoop, "updater-accept");
    }

    void start() {
        acceptor.start();
    }

    private void acceptLoop() {
        while (!closed) {
            AFUNIXSocket s;
            try {
                s = socket.accept();
            } catch (IOException e) {
                if (!closed) {
                    LOG.error("Accepting a connection failed; the updater stops serving", e);
                }
                return;
            }
            try {
                AFUNIXSocketCredentials peer = s.getPeerCredentials();
                if (peer == null || peer.getUid() != agentUid || peer.getGid() != agentGid) {
                    String who = peer == null ? "an unknown peer" : "uid " + peer.getUid() + " gid " + peer.getGid()
                            + " pid " + peer.getPid();
                    LOG.warn("Refused a connection from {}: only the agent (uid {} gid {}) is served", who, agentUid,
                            agentGid);
                    JsonObject forbidden = Protocol.error(Protocol.E_FORBIDDEN, who + " is not the agent (uid "
                            + agentUid + " gid " + agentGid + ")", false);
                    workers.execute(() -> finish(s, forbidden));     // nothing of the request is looked at
                    continue;
                }
                String name = "pid " + peer.getPid();
                workers.execute(() -> serve(s, name));
            } catch (RejectedExecutionException e) {
                busy(s);
            } catch (IOException | RuntimeException e) {
                LOG.warn("Dropped a connection: {}", e.toString());
                closeQuietly(s);
            }
        }
    }

    private void serve(AFUNIXSocket s, String peer) {
        JsonObject answer;
        try {
            answer = handler.handle(read(s), peer);
        } catch (Refusal r) {
            LOG.warn("Refused a request from {}: {}", peer, r.getMessage());
            answer = Protocol.error(r.code(), r.getMessage(), r.permanent());
        } catch (IOException | RuntimeException e) {
            LOG.warn("Connection from {} failed: {}", peer, e.toString());
            closeQuietly(s);
            return;
        }
        finish(s, answer);
    }

    /** On the acceptor: the answer and the end of output now, the draining and the close on a busy thread. */
    private void busy(AFUNIXSocket s) {
        answer(s, Protocol.error(Protocol.E_BUSY, "the updater is busy; retry", false));
        try {
            s.shutdownOutput();
            drainers.execute(() -> {
                try (s) {
                    drain(s);
                } catch (IOException | RuntimeException e) {
                    LOG.debug("Closing a busy connection: {}", e.toString());
                }
            });
        } catch (IOException | RejectedExecutionException e) {
            closeQuietly(s);     // the answer is already in the peer's receive queue
        }
    }

    /** True while every worker is busy and the queue is full: the next connection is answered busy (tests). */
    boolean saturated() {
        return workers.getActiveCount() == workers.getMaximumPoolSize() && workers.getQueue().remainingCapacity() == 0;
    }

    /**
     * Answers, then reads and discards what the peer still sends (bounded by the read deadline and a size cap)
     * before closing: closing a unix socket with unread data resets the connection, and the peer would lose the
     * answer (a refused oversized request, a refused peer).
     */
    private void finish(AFUNIXSocket s, JsonObject answer) {
        try (s) {
            answer(s, answer);
            s.shutdownOutput();
            drain(s);
        } catch (IOException | RuntimeException e) {
            LOG.debug("Closing a connection: {}", e.toString());
        }
    }

    /** Reads and discards until the peer's end of stream, the read deadline or a size cap. */
    private void drain(AFUNIXSocket s) throws IOException {
        long deadline = System.nanoTime() + readTimeout.toNanos();
        InputStream in = s.getInputStream();
        byte[] sink = new byte[8192];
        long drained = 0;
        while (drained < 16L * Protocol.MAX_REQUEST_BYTES) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (left <= 0) {
                break;
            }
            s.setSoTimeout((int) Math.min(Integer.MAX_VALUE, left));
            int n;
            try {
                n = in.read(sink);
            } catch (SocketTimeoutException e) {
                break;
            }
            if (n < 0) {
                break;
            }
            drained += n;
        }
    }

    /** One request line: up to the first newline or the end of the stream, within the size limit and deadline. */
    private String read(AFUNIXSocket s) throws IOException, Refusal {
        long deadline = System.nanoTime() + readTimeout.toNanos();
        InputStream in = s.getInputStream();
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        byte[] buffer = new byte[4096];
        while (true) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (left <= 0) {
                throw new Refusal(Protocol.E_TIMEOUT, "the request was not complete within " + readTimeout.toMillis()
                        + " ms", false);
            }
            s.setSoTimeout((int) Math.min(Integer.MAX_VALUE, left));
            int n;
            try {
                n = in.read(buffer);
            } catch (SocketTimeoutException e) {
                continue;       // the loop reports the missed deadline
            }
            if (n < 0) {
                break;
            }
            int newline = -1;
            for (int i = 0; i < n; i++) {
                if (buffer[i] == '\n') {
                    newline = i;
                    break;
                }
            }
            line.write(buffer, 0, newline >= 0 ? newline : n);
            if (line.size() >= Protocol.MAX_REQUEST_BYTES) {
                throw new Refusal(Protocol.E_TOO_LARGE, "the request is larger than " + Protocol.MAX_REQUEST_BYTES
                        + " bytes", true);
            }
            if (newline >= 0) {
                break;
            }
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(line.toByteArray())).toString();
        } catch (CharacterCodingException e) {
            throw Refusal.malformed("the request is not UTF-8");
        }
    }

    private static void answer(AFUNIXSocket s, JsonObject answer) {
        try {
            s.getOutputStream().write((Protocol.line(answer) + "\n").getBytes(StandardCharsets.UTF_8));
            s.getOutputStream().flush();
        } catch (IOException e) {
            LOG.debug("The peer left before the answer: {}", e.toString());
        }
    }

    private static void closeQuietly(AFUNIXSocket s) {
        try {
            s.close();
        } catch (IOException e) {
            // gone
        }
    }

    @Override
    public void close() throws InterruptedException {
        closed = true;
        try {
            socket.close();
        } catch (IOException e) {
            LOG.debug("Closing the socket: {}", e.toString());
        }
        acceptor.join(5000);
        drainers.shutdown();
        workers.shutdown();
        if (!workers.awaitTermination(60, TimeUnit.SECONDS)) {
            LOG.warn("Requests still running after 60 s; stopping anyway");
            workers.shutdownNow();
        }
        if (!drainers.awaitTermination(readTimeout.toMillis() + 1000, TimeUnit.MILLISECONDS)) {
            drainers.shutdownNow();
        }
    }
}
