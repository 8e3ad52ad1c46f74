package io.steward.source.http.internal;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

/**
 * An HTTPS server on 127.0.0.1 with a self-signed certificate made at test time with {@code keytool}
 * (the pattern of delivery's test server). {@code /doc} answers with {@link #respond}; every request's
 * {@code If-None-Match} is recorded.
 */
final class TlsServer implements AutoCloseable {
    /** One answer: status, headers, body (null: none). */
    record Response(int status, Map<String, String> headers, byte[] body) {
        static Response ok(byte[] body, String etag) {
            return new Response(200, etag == null ? Map.of() : Map.of("ETag", etag), body);
        }
    }

    final Path certificatePem;
    final Path keystore;
    final List<String> ifNoneMatch = new CopyOnWriteArrayList<>();
    volatile java.util.function.Function<HttpExchange, Response> respond = ex -> new Response(404, Map.of(), null);
    private final HttpsServer server;
    private final ExecutorService executor = Executors.newCachedThreadPool();

    TlsServer(Path dir) throws Exception {
        keystore = dir.resolve("server.p12");
        certificatePem = dir.resolve("server.pem");
        run(dir, "keytool", "-genkeypair", "-alias", "test", "-keyalg", "EC", "-groupname", "secp256r1",
                "-dname", "CN=127.0.0.1", "-ext", "san=ip:127.0.0.1", "-validity", "2", "-keystore", keystore.toString(),
                "-storetype", "PKCS12", "-storepass", "changeit", "-keypass", "changeit");
        run(dir, "keytool", "-exportcert", "-rfc", "-alias", "test", "-keystore", keystore.toString(),
                "-storepass", "changeit", "-file", certificatePem.toString());
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = new FileInputStream(keystore.toFile())) {
            ks.load(in, "changeit".toCharArray());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, "changeit".toCharArray());
        SSLContext ssl = SSLContext.getInstance("TLS");
        ssl.init(kmf.getKeyManagers(), null, null);
        server = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(ssl));
        server.setExecutor(executor);
        server.createContext("/doc", ex -> {
            String inm = ex.getRequestHeaders().getFirst("If-None-Match");
            ifNoneMatch.add(inm == null ? "" : inm);
            Response r = respond.apply(ex);
            r.headers().forEach((k, v) -> ex.getResponseHeaders().add(k, v));
            if (r.body() == null) {
                ex.sendResponseHeaders(r.status(), -1);
            } else {
                ex.sendResponseHeaders(r.status(), r.body().length);
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(r.body());
                }
            }
            ex.close();
        });
        server.start();
    }

    String url() {
        return "https://127.0.0.1:" + server.getAddress().getPort() + "/doc";
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }

    private static void run(Path dir, String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(List.of(command) + " failed: " + out);
        }
    }
}
