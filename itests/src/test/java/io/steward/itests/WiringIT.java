package io.steward.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import io.steward.supervision.KindInfo;
import java.util.ArrayList;
import java.util.List;
import javax.inject.Inject;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.service.component.runtime.ServiceComponentRuntime;
import org.osgi.service.component.runtime.dto.ComponentConfigurationDTO;
import org.osgi.service.component.runtime.dto.ComponentDescriptionDTO;
import org.osgi.service.component.runtime.dto.UnsatisfiedReferenceDTO;

/** Every bundle resolves and starts, every component is satisfied, and the kind is on the whiteboard. */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class WiringIT extends PlatformTestSupport {
    static final String CONFIG_TOGGLE_BUNDLE = "io.steward.supervision.config.toggle";

    @Inject
    private ServiceComponentRuntime scr;

    @Test
    public void everyBundleIsActive() {
        await("every bundle is ACTIVE", DEADLINE, () -> notActive().isEmpty(), () -> "not ACTIVE: " + notActive());
        for (String bsn : List.of("io.steward.api", "io.steward.core", "io.steward.source.file",
                CONFIG_TOGGLE_BUNDLE, "io.steward.shell")) {
            assertEquals(bsn + " state", Bundle.ACTIVE, installedBundle(bsn).getState());
        }
    }

    @Test
    public void noComponentIsUnsatisfiedOrFailed() {
        await("every component configuration is ACTIVE or SATISFIED", DEADLINE, () -> componentProblems().isEmpty(),
                () -> "problems: " + componentProblems());
    }

    @Test
    public void configToggleKindIsServedByItsBundle() throws Exception {
        await("SupervisionService lists kind config_toggle", DEADLINE,
                () -> supervision().kinds().stream().anyMatch(k -> k.kind().equals("config_toggle")),
                () -> "kinds " + supervision().kinds());
        KindInfo kind = supervision().kinds().stream().filter(k -> k.kind().equals("config_toggle"))
                .findFirst().orElseThrow();
        assertEquals(CONFIG_TOGGLE_BUNDLE, kind.bundle());
        assertEquals(installedBundle(CONFIG_TOGGLE_BUNDLE).getVersion().toString(), kind.bundleVersion());

        String output = Shell.run(context, "steward:kinds");
        assertTrue("steward:kinds names config_toggle: " + output, output.contains("config_toggle"));
        assertTrue("steward:kinds names the bundle serving it: " + output, output.contains(CONFIG_TOGGLE_BUNDLE));
    }

    private List<String> notActive() {
        List<String> problems = new ArrayList<>();
        for (Bundle b : context.getBundles()) {
            if (b.getState() != Bundle.ACTIVE) {
                problems.add(b.getSymbolicName() + " (state " + b.getState() + ")");
            }
        }
        return problems;
    }

    /** One line per component description or configuration that is not working. */
    private List<String> componentProblems() {
        List<String> problems = new ArrayList<>();
        for (ComponentDescriptionDTO description : scr.getComponentDescriptionDTOs()) {
            String name = description.bundle.symbolicName + "/" + description.name;
            if (!scr.isComponentEnabled(description)) {
                problems.add(name + " is disabled");
                continue;
            }
            var configurations = scr.getComponentConfigurationDTOs(description);
            if (configurations.isEmpty()) {
                problems.add(name + " has no configuration (policy " + description.configurationPolicy + ")");
            }
            for (ComponentConfigurationDTO c : configurations) {
                if (c.state != ComponentConfigurationDTO.ACTIVE && c.state != ComponentConfigurationDTO.SATISFIED) {
                    StringBuilder line = new StringBuilder(name + " is in state " + stateName(c.state));
                    for (UnsatisfiedReferenceDTO r : c.unsatisfiedReferences) {
                        line.append("; unsatisfied reference ").append(r.name).append(' ').append(r.target);
                    }
                    if (c.failure != null) {
                        line.append("; failure ").append(c.failure);
                    }
                    problems.add(line.toString());
                }
            }
        }
        return problems;
    }

    private static String stateName(int state) {
        switch (state) {
            case ComponentConfigurationDTO.UNSATISFIED_CONFIGURATION: return "UNSATISFIED_CONFIGURATION";
            case ComponentConfigurationDTO.UNSATISFIED_REFERENCE: return "UNSATISFIED_REFERENCE";
            case ComponentConfigurationDTO.SATISFIED: return "SATISFIED";
            case ComponentConfigurationDTO.ACTIVE: return "ACTIVE";
            case ComponentConfigurationDTO.FAILED_ACTIVATION: return "FAILED_ACTIVATION";
            default: return String.valueOf(state);
        }
    }
}
