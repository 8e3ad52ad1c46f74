package io.steward.itests;

import static org.junit.Assert.assertEquals;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.osgi.framework.BundleContext;

/** Scrapes the metrics endpoint of the framework (framework property {@code steward.metrics.port}). */
final class Scrape {
    private Scrape() {
    }

    /** The body of {@code /metrics} served in the format {@code accept} asks for; fails on a status but 200. */
    static String metrics(BundleContext context, String accept) throws IOException, InterruptedException {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + context.getProperty("steward.metrics.port") + "/metrics"))
                .header("Accept", accept).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(r.body(), 200, r.statusCode());
        return r.body();
    }

    /** The first sample of {@code series} (a name, or a name with its labels); NaN when there is none. */
    static double value(String text, String series) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + (series.endsWith("}") ? "" : "(\\{[^}]*\\})?")
                + " (\\S+)").matcher(text);
        return m.find() ? Double.parseDouble(m.group(m.groupCount())) : Double.NaN;
    }
}
