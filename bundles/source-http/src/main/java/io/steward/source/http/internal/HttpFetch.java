package io.steward.source.http.internal;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Optional;
import javax.net.ssl.SSLContext;

/**
 * One conditional GET of the document URL with the JDK's client: {@code If-None-Match} with the last
 * ETag, the body read up to the size cap and no further. Redirects are not followed (the URL is the
 * configured one, or nothing).
 */
final class HttpFetch {

    /** What a poll found. */
    sealed interface Result {
    }

    /** 200: a body (at most the cap) and its ETag, if any. */
    record Body(byte[] bytes, Optional<String> etag) implements Result {
    }

    /** 304: nothing new. */
    record NotModified() implements Result {
    }

    /** 429 or 503: the server asks to wait; the raw {@code Retry-After}, if given. */
    record Busy(int status, Optional<String> retryAfter) implements Result {
    }

    /** 200 with a body over the cap: refused like a bad value, not retried sooner. */
    record TooLarge(String reason) implements Result {
    }

    /** Anything else: one sentence. */
    record Failed(String reason) implements Result {
    }

    private final HttpClient client;
    private final URI url;
    private final Duration timeout;
    private final int maxBytes;

    /** @param io runs the client's own tasks; the caller shuts it down (no thread of the client outlives the source) */
    HttpFetch(URI url, SSLContext ssl, Duration timeout, int maxBytes, java.util.concurrent.Executor io) {
        this.url = url;
        this.timeout = timeout;
        this.maxBytes = maxBytes;
        HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(timeout).followRedirects(HttpClient.Redirect.NEVER)
                .executor(io);
        if (ssl != null) {
            b.sslContext(ssl);
        }
        client = b.build();
    }

    Result get(Optional<String> etag) throws InterruptedException {
        HttpRequest.Builder req = HttpRequest.newBuilder(url).timeout(timeout).header("Accept", "application/json").GET();
        etag.ifPresent(e -> req.header("If-None-Match", e));
        HttpResponse<InputStream> resp;
        try {
            resp = client.send(req.build(), HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            return new Failed("GET " + url + " failed (" + e + ")");
        }
        try (InputStream in = resp.body()) {
            int status = resp.statusCode();
            if (status == 304) {
                return new NotModified();
            }
            if (status == 429 || status == 503) {
                return new Busy(status, resp.headers().firstValue("Retry-After"));
            }
            if (status != 200) {
                return new Failed("GET " + url + " answered HTTP " + status);
            }
            long declared = resp.headers().firstValueAsLong("Content-Length").orElse(-1);
            if (declared > maxBytes) {
                return new TooLarge("the document is " + declared + " bytes, more than the " + maxBytes + " allowed");
            }
            byte[] bytes = in.readNBytes(maxBytes + 1);
            if (bytes.length > maxBytes) {
                return new TooLarge("the document is more than the " + maxBytes + " bytes allowed");
            }
            return new Body(bytes, resp.headers().firstValue("ETag"));
        } catch (IOException e) {
            return new Failed("reading the document at " + url + " failed (" + e + ")");
        }
    }

    /**
     * Lets the client's selector thread go: Java 21 closes the client; on Java 17 the thread ends by itself
     * within seconds once the client is no longer referenced.
     */
    void close() {
        if (client instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception e) {
                // closing is best effort; the source is going away
            }
        }
    }
}
