package io.steward.delivery.internal;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

/**
 * An HTTPS server on 127.0.0.1 with a self-signed certificate made at test time with {@code keytool}.
 * Serves {@code /a/<name>} from {@link #files}, {@code /status/<code>} with that status, and
 * {@code /slow/<name>} (a file of {@link #files} in 10 pieces 700 ms apart) and {@code /stall} (headers, some bytes,
 * then nothing until closed).
 */
final class TlsServer implements AutoCloseable {
    final Path certificatePem;
    final Map<String, byte[]> files = new ConcurrentHashMap<>();
    private final HttpsServer server;
    private final ExecutorService executor = Executors.newCachedThreadPool();
    private final CountDownLatch release = new CountDownLatch(1);

    TlsServer(Path dir) throws Exception {
        Path keystore = dir.resolve("server.p12");
        certificatePem = dir.resolve("server.pem");
        Fixtures.run(dir, "keytool", "-genkeypair", "-alias", "test", "-keyalg", "EC", "-groupname", "secp256r1",
                "-dname", "CN=127.0.0.1", "-ext", "san=ip:127.0.0.1", "-validity", "2", "-keystore", keystore.toString(),
                "-storetype", "PKCS12", "-storepass", "changeit", "-keypass", "changeit");
        Fixtures.run(dir, "keytool", "-exportcert", "-rfc", "-alias", "test", "-keystore", keystore.toString(),
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
        server.createContext("/a/", ex -> {
            byte[] body = files.get(ex.getRequestURI().getPath().substring(3));
            if (body == null) {
                ex.sendResponseHeaders(404, -1);
            } else {
                ex.sendResponseHeaders(200, body.length);
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(body);
                }
            }
            ex.close();
        });
        server.createContext("/status/", ex -> {
            int code = Integer.parseInt(ex.getRequestURI().getPath().substring(8));
            byte[] body = ("status " + code).getBytes();
            ex.sendResponseHeaders(code, body.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
            ex.close();
        });
        server.createContext("/slow/", ex -> {         // a slow link: 10 pieces, 700 ms apart
            byte[] body = files.get(ex.getRequestURI().getPath().substring(6));
            ex.sendResponseHeaders(200, body.length);
            try (OutputStream out = ex.getResponseBody()) {
                int piece = (body.length + 9) / 10;
                for (int off = 0; off < body.length; off += piece) {
                    out.write(body, off, Math.min(piece, body.length - off));
                    out.flush();
                    if (release.await(700, java.util.concurrent.TimeUnit.MILLISECONDS)) {
                        return;
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ex.close();
        });
        server.createContext("/stall", ex -> {
            ex.sendResponseHeaders(200, 1 << 20);
            OutputStream out = ex.getResponseBody();
            out.write(new byte[1024]);
            out.flush();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ex.close();
        });
        server.start();
    }

    String url(String path) {
        return "https://127.0.0.1:" + server.getAddress().getPort() + path;
    }

    @Override
    public void close() throws IOException {
        release.countDown();
        server.stop(0);
        executor.shutdownNow();
    }
}
