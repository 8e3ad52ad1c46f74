package io.steward.supervision.sidecar.internal;

import io.steward.supervision.AddonId;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.newsclub.net.unix.AFUNIXSelectorProvider;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sd_notify endpoints: one unix datagram socket per add-on, all served by one selector thread
 * ({@code sidecar-notify}). The JDK has only stream unix sockets, hence junixsocket.
 * <p>
 * A socket lives at {@code <data>/run/<id>.sock}; when that path would not fit a {@code sockaddr_un}
 * (108 bytes with the terminating NUL) it is an abstract-namespace name
 * {@code @steward-<hash of the data dir>-<id>} instead. Either way the address is a pure function of
 * the data directory and the id, so a dispatcher that adopts a running add-on binds the address the
 * add-on already has in {@code NOTIFY_SOCKET}.
 * <p>
 * {@link #bind} and {@link #unbind} may be called from any thread; the sink is called on the selector
 * thread, one datagram at a time. {@link #close()} stops the thread and closes every socket; the
 * socket files stay (the next dispatcher unlinks and binds them again).
 */
final class NotifyHub implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(NotifyHub.class);
    /** sockaddr_un.sun_path holds 108 bytes including the terminating NUL. */
    static final int MAX_PATH_BYTES = 107;
    private static final int DATAGRAM_MAX = 4096;

    /** Receives parsed datagrams on the selector thread. */
    @FunctionalInterface
    interface Sink {
        void accept(AddonId id, NotifyMessage message);
    }

    private record Binding(String address, DatagramChannel channel) {
    }

    private final Sink sink;
    private final Selector selector;
    private final ExecutorService loop;
    private final Map<AddonId, Binding> bindings = new ConcurrentHashMap<>();
    private final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private volatile boolean closed;

    NotifyHub(Sink sink, ThreadFactory threads) throws IOException {
        this.sink = Objects.requireNonNull(sink, "sink");
        this.selector = AFUNIXSelectorProvider.provider().openSelector();
        this.loop = Executors.newSingleThreadExecutor(threads);
        loop.execute(this::run);
    }

    /** The notify address of an add-on: a socket path, or {@code @name} in the abstract namespace. */
    static String address(Path data, AddonId id) {
        Path socket = data.resolve("run").resolve(id.value() + ".sock");
        if (socket.toString().getBytes(StandardCharsets.UTF_8).length <= MAX_PATH_BYTES) {
            return socket.toString();
        }
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(data.toString().getBytes(StandardCharsets.UTF_8));
            return "@steward-" + HexFormat.of().formatHex(digest, 0, 8) + "-" + id.value();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    /** Binds the add-on's socket at {@code address}, replacing a binding at another address; idempotent. */
    void bind(AddonId id, String address) throws IOException {
        if (closed) {
            throw new IOException("the notify endpoint is closed");
        }
        Binding existing = bindings.get(id);
        if (existing != null) {
            if (existing.address().equals(address) && existing.channel().isOpen()) {
                return;
            }
            // another address: let go of the old one without waiting (the caller may hold the add-on's lock)
            bindings.remove(id, existing);
            onLoop(() -> closeQuietly(existing.channel()), false);
            deleteSocketFile(existing.address());
        }
        DatagramChannel channel = AFUNIXSelectorProvider.provider().openDatagramChannel();
        try {
            if (address.startsWith("@")) {
                channel.bind(AFUNIXSocketAddress.inAbstractNamespace(address.substring(1)));
            } else {
                Path path = Path.of(address);
                Files.createDirectories(path.getParent());
                // a socket left by an earlier dispatcher (or agent) of this add-on
                if (Files.exists(path, LinkOption.NOFOLLOW_LINKS) && !Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
                    Files.delete(path);
                }
                channel.bind(AFUNIXSocketAddress.of(new File(address)));
            }
            channel.configureBlocking(false);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
        bindings.put(id, new Binding(address, channel));
        onLoop(() -> {
            try {
                channel.register(selector, SelectionKey.OP_READ, id);
            } catch (ClosedChannelException e) {
                // unbound again before the loop got to it
            }
        }, false);
    }

    /** Closes the add-on's socket and removes its file; waits until the loop has let go of it (never call it
     *  while holding a lock the sink takes). */
    void unbind(AddonId id) {
        Binding b = bindings.remove(id);
        if (b == null) {
            return;
        }
        onLoop(() -> closeQuietly(b.channel()), true);
        deleteSocketFile(b.address());
    }

    /** The address an add-on is bound at, if it is. */
    java.util.Optional<String> boundAddress(AddonId id) {
        return java.util.Optional.ofNullable(bindings.get(id)).map(Binding::address);
    }

    private static void deleteSocketFile(String address) {
        if (!address.startsWith("@")) {
            try {
                Files.deleteIfExists(Path.of(address));
            } catch (IOException e) {
                LOG.debug("Cannot delete notify socket {}", address, e);
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        selector.wakeup();
        loop.shutdown();
        try {
            if (!loop.awaitTermination(5, TimeUnit.SECONDS)) {
                loop.shutdownNow();
                LOG.warn("The sidecar notify thread did not stop within 5s");
            }
        } catch (InterruptedException e) {
            loop.shutdownNow();
            Thread.currentThread().interrupt();
        }
        bindings.values().forEach(b -> closeQuietly(b.channel()));
        bindings.clear();
        closeQuietly(selector);
    }

    /** Runs {@code task} on the selector thread (or here, once the loop is gone); optionally waits for it. */
    private void onLoop(Runnable task, boolean await) {
        if (closed) {
            task.run();
            return;
        }
        CompletableFuture<Void> done = new CompletableFuture<>();
        tasks.add(() -> {
            try {
                task.run();
            } finally {
                done.complete(null);
            }
        });
        selector.wakeup();
        if (await) {
            try {
                done.get(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (ExecutionException | TimeoutException e) {
                LOG.debug("The notify thread did not run a task in time", e);
            }
        }
    }

    private void run() {
        ByteBuffer buffer = ByteBuffer.allocate(DATAGRAM_MAX);
        try {
            while (!closed && !Thread.currentThread().isInterrupted()) {
                Runnable task;
                while ((task = tasks.poll()) != null) {
                    task.run();
                }
                selector.select(1000);
                Iterator<SelectionKey> keys = selector.selectedKeys().iterator();
                while (keys.hasNext()) {
                    SelectionKey key = keys.next();
                    keys.remove();
                    if (key.isValid() && key.isReadable()) {
                        drain(key, buffer);
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            if (!closed) {
                LOG.error("The sidecar notify thread failed; readiness and watchdog messages are lost until the"
                        + " dispatcher restarts", e);
            }
        } finally {
            Runnable task;
            while ((task = tasks.poll()) != null) {
                task.run();
            }
        }
    }

    private void drain(SelectionKey key, ByteBuffer buffer) {
        DatagramChannel channel = (DatagramChannel) key.channel();
        AddonId id = (AddonId) key.attachment();
        for (int i = 0; i < 64; i++) {           // bounded: one chatty add-on cannot starve the others
            buffer.clear();
            try {
                if (channel.receive(buffer) == null && buffer.position() == 0) {
                    return;
                }
            } catch (IOException e) {
                LOG.debug("Receiving on the notify socket of {} failed", id, e);
                return;
            }
            buffer.flip();
            try {
                sink.accept(id, NotifyMessage.parse(buffer.array(), buffer.limit()));
            } catch (RuntimeException e) {
                LOG.warn("Handling a notify message of add-on {} failed", id, e);
            }
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            LOG.debug("Closing {} failed", c, e);
        }
    }
}
