package io.steward.delivery.internal;

import io.steward.delivery.Activation;
import io.steward.delivery.ArtifactStager;
import io.steward.delivery.StagedArtifact;
import io.steward.delivery.artifacts.Limits;
import io.steward.delivery.staging.Stager;
import io.steward.delivery.staging.StagingSettings;
import io.steward.observe.StewardObserver;
import io.steward.supervision.AddonId;
import io.steward.supervision.HostLayout;
import io.steward.supervision.spi.AddonRecord;
import io.steward.supervision.spi.SupervisionException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.FieldOption;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Provides {@link ArtifactStager}: the DS component of the {@link Stager} in {@code delivery-artifacts}, which
 * fetches, verifies, extracts and stages artifacts and swaps {@code current}; this class turns the typed
 * configuration into its settings and keeps the observers' whiteboard list it reads.
 * <p>
 * Configuration PID {@value #PID}. Threading: that of {@link Stager} (a lock per add-on; thread
 * {@code delivery-watchdog} until deactivation).
 */
@Component(service = ArtifactStager.class, configurationPid = DeliveryStager.PID)
@Designate(ocd = DeliveryStager.Config.class)
public final class DeliveryStager implements ArtifactStager {
    static final String PID = "io.steward.delivery";
    static final String PUSHED = Stager.PUSHED;
    private static final Logger LOG = LoggerFactory.getLogger(DeliveryStager.class);

    @ObjectClassDefinition(name = "Steward artifact delivery",
            description = "Limits, timeouts and trust for fetching and staging add-on artifacts")
    public @interface Config {
        @AttributeDefinition(description = "Most entries (files and directories) an artifact may hold")
        int max_entries() default StagingSettings.MAX_ENTRIES;

        @AttributeDefinition(description = "Most bytes one file of an artifact may hold")
        long max_file_bytes() default StagingSettings.MAX_FILE_BYTES;

        @AttributeDefinition(description = "Most bytes all files of an artifact may hold together")
        long max_total_bytes() default StagingSettings.MAX_TOTAL_BYTES;

        @AttributeDefinition(description = "Most bytes of the artifact itself (compressed), for downloads and files")
        long max_artifact_bytes() default StagingSettings.MAX_ARTIFACT_BYTES;

        @AttributeDefinition(description = "Seconds to wait for an HTTPS connection")
        int connect_timeout_seconds() default StagingSettings.CONNECT_TIMEOUT_SECONDS;

        @AttributeDefinition(description = "Seconds to wait for a response, and without data while a body arrives")
        int read_timeout_seconds() default StagingSettings.READ_TIMEOUT_SECONDS;

        @AttributeDefinition(description = "Add-on ids whose artifacts may be unsigned (empty signature); a wrong signature is still refused")
        String[] allow_unsigned_addons() default {};

        @AttributeDefinition(description = "Version directories kept besides current and the rollback target")
        int retain_versions() default StagingSettings.RETAIN_VERSIONS;

        @AttributeDefinition(description = "Certificates to trust for https: artifact URLs: a PEM file of CA certificates, "
                + "or a PKCS#12/JKS store readable without a password; empty for the JDK's default trust")
        String tls_truststore() default "";

        @AttributeDefinition(description = "Flush every extracted file to disk before its version directory appears")
        boolean sync_files() default StagingSettings.SYNC_FILES;

        @AttributeDefinition(description = "Keep the verified artifact file at <data>/addons/<id>/artifacts/<sha256>.tar.gz, "
                + "where the root updater re-reads and re-verifies it: auto (when the agent is not root), always, never")
        String keep_artifacts() default StagingSettings.KEEP_ARTIFACTS;
    }

    /** Metrics count delivered bytes and verification failures here (whiteboard). */
    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            fieldOption = FieldOption.UPDATE)
    private final List<StewardObserver> observers = new CopyOnWriteArrayList<>();

    private final Stager stager;

    @Activate
    public DeliveryStager(BundleContext context, Config config) {
        this(HostLayout.from(context::getProperty), config, Boolean.parseBoolean(context.getProperty("steward.tty")));
    }

    DeliveryStager(HostLayout layout, Config config, boolean tty) {
        this.stager = new Stager(layout, settings(config), tty, observers);
    }

    static StagingSettings settings(Config config) {
        return new StagingSettings(config.max_entries(), config.max_file_bytes(), config.max_total_bytes(),
                config.max_artifact_bytes(), config.connect_timeout_seconds(), config.read_timeout_seconds(),
                List.of(config.allow_unsigned_addons()), config.retain_versions(), config.tls_truststore(),
                config.sync_files(), config.keep_artifacts());
    }

    static Limits limits(Config config) {
        return settings(config).limits();
    }

    /** Test hook: called with "extracted" before the move into versions/, "staged" after it. */
    void checkpoint(Consumer<String> hook) {
        stager.checkpoint(hook);
    }

    @Deactivate
    void deactivate() throws InterruptedException {
        stager.close();
        LOG.info("Artifact delivery stopped");
    }

    @Override
    public StagedArtifact stage(AddonRecord addon) throws SupervisionException {
        return stager.stage(addon);
    }

    @Override
    public Activation activate(AddonRecord addon, StagedArtifact staged) throws SupervisionException {
        return stager.activate(addon, staged);
    }

    @Override
    public Optional<StagedArtifact> current(AddonId id) {
        return stager.current(id);
    }

    @Override
    public void remove(AddonId id) throws SupervisionException {
        stager.remove(id);
    }
}
