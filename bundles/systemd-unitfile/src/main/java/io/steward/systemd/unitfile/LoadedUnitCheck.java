package io.steward.systemd.unitfile;

import io.steward.supervision.spi.SupervisionException;
import io.steward.systemd.LoadedUnit;
import io.steward.systemd.LoadedUnit.ExecCommand;
import io.steward.systemd.unitfile.UnitFile.Entry;
import io.steward.systemd.unitfile.UnitPolicy.Context;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;

/**
 * The unit rules applied a second time, to what systemd actually loaded (read back over D-Bus after the unit files
 * were written and before anything is enabled or started): the argv of every command, the merged environment, the
 * paths and identities, the dependencies (minus the ones systemd adds itself), the timer's {@code Triggers} and
 * the unit's names. Whatever the text parser may have missed, systemd's own reading must pass too; a unit systemd
 * refused ({@code bad-setting}) or still holds stale ({@code NeedDaemonReload}) is refused.
 */
public final class LoadedUnitCheck {
    static final String LOADED = "what systemd loaded";
    /** Dependencies systemd adds by itself to services and timers (systemd 252, read back in LoadedUnitTest). */
    private static final Set<String> IMPLICIT = Set.of("system.slice", "dbus.socket", "tmp.mount");

    private LoadedUnitCheck() {
    }

    /** Refuses {@code loaded} unless it passes the rules of {@code ctx}; {@code name} is the unit Steward wrote. */
    public static void check(Context ctx, String name, LoadedUnit loaded) throws SupervisionException {
        try {
            run(ctx, name, loaded);
        } catch (RuleViolation v) {
            throw UnitPolicy.refuse(ctx.id(), v.rule().equals(LOADED) ? v : new RuleViolation(name,
                    OptionalInt.empty(), LOADED, "systemd loaded a unit that breaks the rule \"" + v.rule() + "\": "
                    + v.detail()));
        }
    }

    private static void run(Context ctx, String name, LoadedUnit u) throws RuleViolation {
        if (!u.loaded() || u.needDaemonReload()) {
            throw new RuleViolation(name, OptionalInt.empty(), LOADED, "systemd holds it as " + u.loadState()
                    + (u.needDaemonReload() ? " with changes it has not read" : "") + ", not as the file Steward wrote");
        }
        if (!u.name().equals(name) || !u.names().equals(List.of(name))) {
            throw new RuleViolation(name, OptionalInt.empty(), LOADED, "systemd knows it by the names " + u.names()
                    + "; an alias could stand for another unit");
        }
        if (!u.fragmentPath().endsWith("/" + name)) {
            throw new RuleViolation(name, OptionalInt.empty(), LOADED, "systemd loaded it from " + u.fragmentPath()
                    + ", not from the file Steward wrote");
        }
        refuseAny(name, "BindPaths", u.bindPaths());
        refuseAny(name, "BindReadOnlyPaths", u.bindReadOnlyPaths());
        refuseAny(name, "ExecSearchPath", u.execSearchPath());
        refuseAny(name, "PassEnvironment", u.passEnvironment());
        refuseAny(name, "EnvironmentFile", u.environmentFiles());
        refuseAny(name, "TemporaryFileSystem", u.temporaryFileSystem());
        refuseAny(name, "MountImages", u.mountImages());
        refuseAny(name, "ExtensionImages", u.extensionImages());
        refuseAny(name, "ExtensionDirectories", u.extensionDirectories());
        refuseAny(name, "LoadCredential", u.loadCredentials());
        refuseAny(name, "SetCredential", u.setCredentials());
        refuseAny(name, "RootDirectory", u.rootDirectory().isEmpty() ? List.of() : List.of(u.rootDirectory()));
        refuseAny(name, "RootImage", u.rootImage().isEmpty() ? List.of() : List.of(u.rootImage()));

        boolean root = !u.dynamicUser() && (u.user().isEmpty() || u.user().equals("root") || u.user().equals("0"));
        UnitCheck check = new UnitCheck(ctx, UnitFile.of(name, List.of()), root);
        for (String assignment : u.environment()) {
            int eq = assignment.indexOf('=');
            String var = eq < 0 ? assignment : assignment.substring(0, eq);
            String value = eq < 0 ? "" : assignment.substring(eq + 1);
            check.checkVariable(entry("Environment", assignment), var, value);
            check.environment.put(var, value);
        }
        for (Map.Entry<String, List<ExecCommand>> e : u.exec().entrySet()) {
            for (ExecCommand c : e.getValue()) {
                Entry entry = entry(e.getKey(), c.path());
                if (c.argv().isEmpty() || !c.argv().get(0).equals(c.path())) {
                    throw new RuleViolation(name, OptionalInt.empty(), LOADED, e.getKey() + " runs " + c.path()
                            + " with argv[0] " + (c.argv().isEmpty() ? "missing" : c.argv().get(0)));
                }
                List<String> argv = new ArrayList<>(List.of(c.path()));
                for (String w : c.argv().subList(1, c.argv().size())) {
                    argv.addAll(check.expand(entry, w, !c.flags().contains("no-env-expand")));
                }
                boolean privileged = c.privileged() || c.flags().contains("no-setuid") || c.flags().contains("ambient");
                check.checkCommand(entry, argv, root || privileged);
            }
        }
        if (!u.workingDirectory().isEmpty()) {
            if (u.workingDirectory().equals("~") || u.workingDirectory().equals("!~")) {
                throw new RuleViolation(name, OptionalInt.empty(), LOADED, "WorkingDirectory is the user's home");
            }
            check.path(entry("WorkingDirectory", u.workingDirectory()));
        }
        if (!u.pidFile().isEmpty()) {
            check.path(entry("PIDFile", u.pidFile()));
        }
        check.identity(entry("User", u.user()));
        check.identity(entry("Group", u.group()));
        check.identity(entry("SupplementaryGroups", String.join(" ", u.supplementaryGroups())));
        for (String key : LoadedUnit.DEPENDENCY_PROPERTIES) {
            List<String> deps = u.dependency(key).stream().filter(d -> !IMPLICIT.contains(d)).toList();
            if (key.equals("TriggeredBy")) {
                continue;     // who starts this unit: never a unit this one starts
            }
            if (key.equals("Triggers")) {
                for (String t : deps) {
                    if (!ctx.ownUnits().contains(t)) {
                        throw new RuleViolation(name, OptionalInt.empty(), LOADED, "it triggers " + t + ", which is "
                                + "not one of the add-on's own units");
                    }
                }
                continue;
            }
            check.dependencies(new Entry("Unit", key, String.join(" ", deps), 0));
        }
    }

    private static Entry entry(String key, String value) {
        return new Entry("Service", key, value, 0);
    }

    private static void refuseAny(String name, String property, List<?> values) throws RuleViolation {
        if (!values.isEmpty()) {
            throw new RuleViolation(name, OptionalInt.empty(), LOADED, "systemd loaded " + property + "=" + values
                    + ", which Steward refuses");
        }
    }
}
