package io.steward.bench;

import java.io.IOException;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;

/**
 * The sidecar benchmark's {@code ArtifactStager}, registered by reflection into the benchmark's Felix at a high
 * ranking: it stages by writing the script into {@code versions/<version>} and activates by swapping
 * {@code current}, so the figures are the supervision path's, not download and verification.
 */
final class BenchScriptStager {

    private BenchScriptStager() {
    }

    /** Stages by writing the script into {@code versions/<version>}; activates by swapping {@code current}. */
    static void register(BundleContext ctx, Bundle api, Path data, String script) throws Exception {
        Class<?> stagerType = api.loadClass("io.steward.delivery.ArtifactStager");
        Class<?> activationType = api.loadClass("io.steward.delivery.Activation");
        Class<?> stagedType = api.loadClass("io.steward.delivery.StagedArtifact");
        Class<?> manifestType = api.loadClass("io.steward.delivery.AddonManifest");
        InvocationHandler handler = (proxy, m, a) -> switch (m.getName()) {
            case "stage" -> {
                Object record = a[0];
                Object assignment = SidecarBench.call(record, "assignment");
                String id = SidecarBench.call(assignment, "id").toString();
                String version = (String) SidecarBench.call(assignment, "version");
                Path dir = ((Path) SidecarBench.call(record, "home")).resolve("versions").resolve(version);
                Files.createDirectories(dir);
                Path file = dir.resolve("run.sh");
                if (!Files.exists(file)) {
                    Files.writeString(file, script, StandardCharsets.UTF_8);
                    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
                }
                Object manifest = manifestType.getConstructors()[0].newInstance(id, version, "sidecar", "run.sh",
                        List.of(), List.of(), Optional.empty(), Map.of("notify", "true"));
                yield stagedType.getConstructors()[0].newInstance(dir, manifest, "ab".repeat(32));
            }
            case "activate" -> {
                Path current = (Path) SidecarBench.call(a[0], "current");
                Object staged = a[1];
                Optional<Path> previous = Files.isSymbolicLink(current)
                        ? Optional.of(current.resolveSibling(Files.readSymbolicLink(current)).normalize())
                        : Optional.empty();
                point(current, (Path) SidecarBench.call(staged, "directory"));
                yield Proxy.newProxyInstance(activationType.getClassLoader(), new Class<?>[] {activationType},
                        (p2, m2, a2) -> switch (m2.getName()) {
                            case "staged" -> staged;
                            case "previous" -> previous;
                            case "rollback" -> {
                                if (previous.isPresent()) {
                                    point(current, previous.get());
                                } else {
                                    Files.deleteIfExists(current);
                                }
                                yield null;
                            }
                            case "commit" -> null;
                            case "hashCode" -> System.identityHashCode(p2);
                            case "equals" -> p2 == a2[0];
                            default -> "activation";
                        });
            }
            case "current" -> Optional.empty();
            case "remove" -> {
                Path home = data.resolve("addons").resolve(a[0].toString());
                Files.deleteIfExists(home.resolve("current"));
                if (Files.exists(home.resolve("versions"))) {
                    Trees.delete(home.resolve("versions"));
                }
                yield null;
            }
            case "hashCode" -> System.identityHashCode(proxy);
            case "equals" -> proxy == a[0];
            default -> "bench stager";
        };
        Object stager = Proxy.newProxyInstance(stagerType.getClassLoader(), new Class<?>[] {stagerType}, handler);
        Hashtable<String, Object> props = new Hashtable<>();
        props.put(Constants.SERVICE_RANKING, 1000);
        ctx.registerService(stagerType.getName(), stager, props);
    }

    private static void point(Path link, Path dir) throws IOException {
        Path tmp = link.resolveSibling("current.tmp");
        Files.deleteIfExists(tmp);
        Files.createSymbolicLink(tmp, link.getParent().relativize(dir));
        Files.move(tmp, link, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
