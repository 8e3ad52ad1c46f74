package io.steward.delivery.staging;

import io.steward.delivery.artifacts.ArtifactReader;
import io.steward.delivery.artifacts.Failures;
import io.steward.delivery.artifacts.Progress;
import io.steward.supervision.spi.SupervisionException;
import java.io.ByteArrayInputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemNotFoundException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.Collection;
import java.util.Locale;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongFunction;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManagerFactory;

/**
 * Opens an artifact URL for the one-pass reader.
 * <ul>
 * <li>{@code file:} is read in place. Missing: transient (it may be copied there
 * later); a directory, a FIFO or a device: permanent. Any other
 * I/O error: transient.</li>
 * <li>{@code https:} is downloaded (HTTP/1.1 or 2, connect timeout, an idle timeout while the body
 * arrives, a size cap) into a private temporary file (0600) under {@code <data>/tmp}, deleted when the
 * read is done. HTTP 4xx and 3xx (no redirect is followed to another scheme): permanent; 5xx, timeouts,
 * network and TLS errors, a full disk: transient.</li>
 * <li>Any other scheme: permanent.</li>
 * </ul>
 * Thread-safe.
 */
final class Fetcher {
    static final String STEP = "fetch";

    /** An opened artifact: its bytes, their number when known, and whatever must be cleaned up. */
    record Opened(InputStream stream, long size, Closeable cleanup) implements Closeable {
        @Override
        public void close() throws IOException {
            try (Closeable c = cleanup) {
                stream.close();
            }
        }
    }

    private final Duration connectTimeout;
    private final Duration readTimeout;
    private final long maxBytes;
    private final SSLContext ssl;
    private final ScheduledExecutorService watchdog;

    Fetcher(Duration connectTimeout, Duration readTimeout, long maxBytes, SSLContext ssl,
            ScheduledExecutorService watchdog) {
        this.connectTimeout = connectTimeout;
        this.readTimeout = readTimeout;
        this.maxBytes = maxBytes;
        this.ssl = ssl;
        this.watchdog = watchdog;
    }

    /**
     * Opens {@code url}. {@code progress} gets a progress sink for a total size once it is known (used for
     * downloads only; the reader reports its own progress over a local file).
     */
    Opened open(Failures fail, String url, Path tmp, String tmpPrefix, LongFunction<Progress> progress)
            throws SupervisionException {
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            throw fail.permanent(STEP, "the artifact URL \"" + ArtifactReader.printable(url) + "\" is not a valid URL");
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        return switch (scheme) {
            case "file" -> file(fail, uri);
            case "https" -> https(fail, uri, tmp, tmpPrefix, progress);
            default -> throw fail.permanent(STEP, "unsupported URL scheme \"" + ArtifactReader.printable(scheme)
                    + "\" in " + ArtifactReader.printable(url) + " (use file: or https:)");
        };
    }

    private Opened file(Failures fail, URI uri) throws SupervisionException {
        Path path;
        try {
            path = Path.of(uri);
        } catch (IllegalArgumentException | FileSystemNotFoundException e) {
            throw fail.permanent(STEP, "the artifact URL " + uri + " is not a local file URL (" + e.getMessage() + ")");
        }
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(path, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            throw fail.temporary(STEP, "the artifact file " + path + " does not exist (yet); retried with backoff", e);
        } catch (IOException e) {
            throw fail.temporary(STEP, "cannot read the artifact file " + path + ": " + Failures.describe(e), e);
        }
        if (a.isDirectory()) {
            throw fail.permanent(STEP, "the artifact file " + path + " is a directory");
        }
        if (!a.isRegularFile()) {
            throw fail.permanent(STEP, "the artifact file " + path + " is not a regular file (a FIFO, socket or device)");
        }
        if (a.size() > maxBytes) {
            throw fail.permanent(STEP, "the artifact file " + path + " is " + a.size()
                    + " bytes, above the limit of " + maxBytes);
        }
        try {
            InputStream in = Files.newInputStream(path);
            return new Opened(in, a.size(), () -> { });
        } catch (IOException e) {
            throw fail.temporary(STEP, "cannot open the artifact file " + path + ": " + Failures.describe(e), e);
        }
    }

    private Opened https(Failures fail, URI uri, Path tmp, String tmpPrefix, LongFunction<Progress> progress)
            throws SupervisionException {
        HttpClient.Builder builder = HttpClient.newBuilder().connectTimeout(connectTimeout)
                .followRedirects(HttpClient.Redirect.NORMAL);
        if (ssl != null) {
            builder.sslContext(ssl);
        }
        HttpClient client = builder.build();
        HttpRequest request = HttpRequest.newBuilder(uri).timeout(readTimeout).GET()
                .header("Accept", "application/gzip, application/octet-stream").build();
        HttpResponse<InputStream> response;
        try {
            response = client.send(request, HttpResponse.BodyHandlers.ofInputStream());
        } catch (HttpConnectTimeoutException e) {
            // the request's own timeout also ends a connect (or TLS handshake) still in progress: say which bound hit
            throw fail.temporary(STEP, "connecting to " + host(uri) + " timed out after "
                    + Math.min(connectTimeout.toSeconds(), readTimeout.toSeconds()) + " s", e);
        } catch (HttpTimeoutException e) {
            throw fail.temporary(STEP, "no response from " + host(uri) + " within " + readTimeout.toSeconds() + " s", e);
        } catch (ConnectException e) {
            throw fail.temporary(STEP, "cannot connect to " + host(uri) + ": "
                    + (e.getMessage() == null ? "connection refused" : e.getMessage()), e);
        } catch (SSLException e) {
            throw fail.temporary(STEP, "TLS with " + host(uri) + " failed: " + Failures.describe(e), e);
        } catch (IOException e) {
            throw fail.temporary(STEP, "downloading " + uri + " failed: " + Failures.describe(e), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw fail.temporary(STEP, "interrupted while downloading " + uri, e);
        }
        int status = response.statusCode();
        if (status != 200) {
            String reason = "HTTP " + status + " from " + uri;
            try (InputStream body = response.body()) {
                body.readNBytes(4096);  // let the connection be reused
            } catch (IOException e) {
                // only the status matters
            }
            if (status >= 500) {
                throw fail.temporary(STEP, reason);
            }
            throw fail.permanent(STEP, reason);
        }
        long length = response.headers().firstValueAsLong("Content-Length").orElse(-1);
        if (length > maxBytes) {
            close(response.body());
            throw fail.permanent(STEP, uri + " is " + length + " bytes, above the limit of " + maxBytes);
        }
        Path file;
        try {
            file = FileOps.privateFile(tmp, tmpPrefix);
        } catch (IOException e) {
            close(response.body());
            throw fail.temporary(STEP, "cannot create a temporary file in " + tmp + ": " + Failures.describe(e), e);
        }
        try {
            download(fail, uri, response.body(), file, progress.apply(length));
            return new Opened(Files.newInputStream(file), Files.size(file), () -> Files.deleteIfExists(file));
        } catch (IOException e) {
            deleteQuietly(file);
            throw fail.temporary(STEP, "cannot read the download " + file + ": " + Failures.describe(e), e);
        } catch (SupervisionException | RuntimeException e) {
            deleteQuietly(file);
            throw e;
        }
    }

    /** Copies the body into {@code file}, giving up when no byte arrived for the read timeout. */
    private void download(Failures fail, URI uri, InputStream body, Path file, Progress progress)
            throws SupervisionException {
        Thread reader = Thread.currentThread();
        AtomicLong lastProgress = new AtomicLong(System.nanoTime());
        AtomicBoolean timedOut = new AtomicBoolean();
        Object lock = new Object();
        boolean[] finished = {false};
        long period = Math.max(100, Math.min(1000, readTimeout.toMillis() / 4));
        ScheduledFuture<?> guard = watchdog.scheduleAtFixedRate(() -> {
            if (System.nanoTime() - lastProgress.get() <= readTimeout.toNanos()) {
                return;
            }
            synchronized (lock) {
                // never interrupt the reader once it has left this method
                if (!finished[0] && timedOut.compareAndSet(false, true)) {
                    // the JDK client's body stream swallows an interrupt while it waits, but looks at
                    // "closed" when woken: close it, then wake the reader
                    close(body);
                    reader.interrupt();
                }
            }
        }, period, period, TimeUnit.MILLISECONDS);
        long total = 0;
        try (InputStream in = body;
             FileChannel out = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            byte[] buf = new byte[256 * 1024];
            while (true) {
                int n = in.read(buf);
                if (n < 0) {
                    break;
                }
                lastProgress.set(System.nanoTime());
                total += n;
                if (total > maxBytes) {
                    throw fail.permanent(STEP, uri + " sent more than the limit of " + maxBytes + " bytes");
                }
                ByteBuffer bb = ByteBuffer.wrap(buf, 0, n);
                while (bb.hasRemaining()) {
                    try {
                        out.write(bb);
                    } catch (IOException e) {
                        if (timedOut.get() || e instanceof ClosedByInterruptException) {
                            throw e;
                        }
                        throw fail.temporary(STEP, "cannot write the download to " + file + ": " + Failures.describe(e), e);
                    }
                }
                progress.advance(n);
            }
        } catch (IOException e) {
            if (timedOut.get()) {
                throw fail.temporary(STEP, "no data from " + host(uri) + " for " + readTimeout.toSeconds()
                        + " s after " + total + " bytes", e);
            }
            if (e instanceof InterruptedIOException || e instanceof ClosedByInterruptException
                    || e.getCause() instanceof InterruptedException) {
                Thread.currentThread().interrupt();
                throw fail.temporary(STEP, "interrupted while downloading " + uri, e);
            }
            throw fail.temporary(STEP, "downloading " + uri + " failed after " + total + " bytes: "
                    + Failures.describe(e), e);
        } finally {
            synchronized (lock) {
                finished[0] = true;
            }
            guard.cancel(false);
            if (timedOut.get()) {
                Thread.interrupted();   // our own interrupt, not the caller's
            }
        }
        if (timedOut.get()) {
            throw fail.temporary(STEP, "no data from " + host(uri) + " for " + readTimeout.toSeconds()
                    + " s after " + total + " bytes");
        }
    }

    private static String host(URI uri) {
        return uri.getPort() < 0 ? uri.getHost() : uri.getHost() + ":" + uri.getPort();
    }

    private static void close(InputStream in) {
        try {
            in.close();
        } catch (IOException e) {
            // nothing to keep
        }
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            // cleaned up at the next stage
        }
    }

    /**
     * The TLS context that trusts the certificates of {@code path}: a PEM file of certificates, or a
     * PKCS#12/JKS trust store readable without a password. {@code null} (the JDK's default trust) for an
     * empty path.
     */
    static SSLContext trustFrom(String path) {
        if (path == null || path.isBlank()) {
            return null;
        }
        Path file = Path.of(path);
        try {
            KeyStore store;
            byte[] bytes = Files.readAllBytes(file);
            if (new String(bytes, 0, Math.min(bytes.length, 64), StandardCharsets.US_ASCII).contains("-----BEGIN")) {
                store = KeyStore.getInstance(KeyStore.getDefaultType());
                store.load(null, null);
                Collection<? extends Certificate> certs = CertificateFactory.getInstance("X.509")
                        .generateCertificates(new ByteArrayInputStream(bytes));
                int i = 0;
                for (Certificate c : certs) {
                    store.setCertificateEntry("cert-" + i++, c);
                }
                if (i == 0) {
                    throw new IllegalArgumentException("tls.truststore: " + path + " holds no certificate");
                }
            } else {
                store = KeyStore.getInstance(file.toFile(), (char[]) null);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(store);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, tmf.getTrustManagers(), null);
            return context;
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalArgumentException("tls.truststore: cannot load " + path + ": " + e.getMessage(), e);
        }
    }
}
