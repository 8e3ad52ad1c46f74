package io.steward.systemd;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What systemd actually loaded for one unit, read back over D-Bus after it parsed the file: post-escape,
 * post-specifier, post-{@code ;}, with the first-{@code Unit=}-wins and last-{@code Environment=}-wins rules
 * already applied. A checker validates this rather than (or as well as) the unit text. Properties the unit's
 * type does not have are empty ({@code ""}, an empty list, {@code false}), never missing:
 * {@link #exec()} always has every key of {@link #EXEC_PROPERTIES} and {@link #dependencies()} every key of
 * {@link #DEPENDENCY_PROPERTIES}.
 * <p>
 * systemd holds what it read when it loaded the unit: a file changed on disk since is not seen until a
 * daemon-reload, and {@link #needDaemonReload()} says so; a checker must refuse to decide on such a unit.
 * Dependency lists include the dependencies systemd adds by itself (for a service:
 * {@code Requires=sysinit.target system.slice}, {@code Conflicts=shutdown.target}; with {@code Type=dbus}
 * also {@code Requires=dbus.socket}; for a timer {@code Requires=sysinit.target},
 * {@code Conflicts=shutdown.target}; the {@code Triggers}/{@code TriggeredBy} pair between a timer and its
 * unit).
 *
 * @param name                 the unit's primary name ({@code Id}); for a name loaded through an alias this is
 *                             the unit the alias points at
 * @param names                every name systemd knows the unit by ({@code Names}): the primary name and the
 *                             aliases systemd had found when it loaded the unit
 * @param loadState            {@code LoadState}: {@code loaded}, {@code not-found}, {@code bad-setting},
 *                             {@code error}, {@code masked}
 * @param fragmentPath         {@code FragmentPath} inside systemd's mount namespace; {@code ""} when none
 * @param dropInPaths          {@code DropInPaths}: the {@code .d/*.conf} files systemd merged
 * @param needDaemonReload     {@code NeedDaemonReload}: the files on disk differ from what was loaded
 * @param exec                 per {@link #EXEC_PROPERTIES} name, the commands in order (one per
 *                             {@code ;}-separated command line)
 * @param environment          {@code Environment}: {@code KEY=value} after unquoting and unescaping, one per
 *                             variable: systemd merges the assignments, the last one wins
 * @param environmentFiles     {@code EnvironmentFiles}: the paths (a {@code -} prefix is not part of it)
 * @param passEnvironment      {@code PassEnvironment}: variable names
 * @param workingDirectory     {@code WorkingDirectory} as systemd reports it: {@code ""}, a path, {@code "~"},
 *                             or {@code "!"}-prefixed when the setting had the {@code -} prefix
 * @param rootDirectory        {@code RootDirectory}; {@code ""} when none
 * @param rootImage            {@code RootImage}; {@code ""} when none
 * @param bindPaths            {@code BindPaths}
 * @param bindReadOnlyPaths    {@code BindReadOnlyPaths}
 * @param execSearchPath       {@code ExecSearchPath} (systemd 250 and later; empty when absent)
 * @param temporaryFileSystem  {@code TemporaryFileSystem}: the mount points
 * @param mountImages          {@code MountImages}: the image sources
 * @param extensionImages      {@code ExtensionImages}: the image sources
 * @param extensionDirectories {@code ExtensionDirectories}
 * @param loadCredentials      the credential names of {@code LoadCredential} and {@code LoadCredentialEncrypted}
 * @param setCredentials       the credential names of {@code SetCredential} and {@code SetCredentialEncrypted}
 * @param user                 {@code User}; {@code ""} is root (unless {@code dynamicUser})
 * @param group                {@code Group}
 * @param supplementaryGroups  {@code SupplementaryGroups}
 * @param dynamicUser          {@code DynamicUser}
 * @param pidFile              {@code PIDFile}
 * @param type                 a service's {@code Type}; {@code ""} for other unit types
 * @param dependencies         per {@link #DEPENDENCY_PROPERTIES} name, the unit names
 * @since 2.0
 */
public record LoadedUnit(String name, List<String> names, String loadState, String fragmentPath,
                         List<String> dropInPaths, boolean needDaemonReload, Map<String, List<ExecCommand>> exec,
                         List<String> environment, List<String> environmentFiles, List<String> passEnvironment,
                         String workingDirectory, String rootDirectory, String rootImage, List<BindPath> bindPaths,
                         List<BindPath> bindReadOnlyPaths, List<String> execSearchPath,
                         List<String> temporaryFileSystem, List<String> mountImages, List<String> extensionImages,
                         List<String> extensionDirectories, List<String> loadCredentials,
                         List<String> setCredentials, String user, String group, List<String> supplementaryGroups,
                         boolean dynamicUser, String pidFile, String type, Map<String, List<String>> dependencies) {
    /** The command properties of a service, in the order systemd runs them. */
    public static final List<String> EXEC_PROPERTIES = List.of("ExecCondition", "ExecStartPre", "ExecStart",
            "ExecStartPost", "ExecReload", "ExecStop", "ExecStopPost");

    /** The dependency properties that make systemd start, stop or reload another unit. */
    public static final List<String> DEPENDENCY_PROPERTIES = List.of("Wants", "Requires", "Requisite", "BindsTo",
            "PartOf", "Upholds", "Conflicts", "OnFailure", "OnSuccess", "PropagatesReloadTo", "ReloadPropagatedFrom",
            "PropagatesStopTo", "StopPropagatedFrom", "Triggers", "TriggeredBy");

    /**
     * One command line of an {@code Exec*=} setting as systemd will run it.
     *
     * @param path  the executable ({@code path} of the D-Bus struct), after the search-path lookup systemd did
     *              at load time
     * @param argv  the full argument vector, {@code argv[0]} included (differs from {@code path} with the
     *              {@code @} prefix); {@code $VAR}/{@code ${VAR}} are still unexpanded, systemd expands them
     *              from the environment when it runs the command
     * @param flags the prefixes as systemd names them in the {@code Exec*Ex} properties:
     *              {@code ignore-failure} ({@code -}), {@code privileged} ({@code +}), {@code no-setuid}
     *              ({@code !}), {@code ambient} ({@code !!}), {@code no-env-expand} ({@code :}); the
     *              {@code @} prefix shows only in {@code argv}
     * @since 2.0
     */
    public record ExecCommand(String path, List<String> argv, List<String> flags) {
        public ExecCommand {
            Objects.requireNonNull(path, "path");
            argv = List.copyOf(argv);
            flags = List.copyOf(flags);
        }

        /** A command without prefixes. */
        public ExecCommand(String path, List<String> argv) {
            this(path, argv, List.of());
        }

        /** True for the {@code +} prefix: runs with full privileges, ignoring {@code User=} and sandboxing. */
        public boolean privileged() {
            return flags.contains("privileged");
        }
    }

    /**
     * One entry of {@code BindPaths=}/{@code BindReadOnlyPaths=}.
     *
     * @param source      the host path (a {@code -} prefix is not part of it)
     * @param destination the path inside the unit's mount namespace
     * @since 2.0
     */
    public record BindPath(String source, String destination) {
        public BindPath {
            Objects.requireNonNull(source, "source");
            Objects.requireNonNull(destination, "destination");
        }
    }

    public LoadedUnit {
        Objects.requireNonNull(name, "name");
        names = List.copyOf(names);
        Objects.requireNonNull(loadState, "loadState");
        Objects.requireNonNull(fragmentPath, "fragmentPath");
        dropInPaths = List.copyOf(dropInPaths);
        exec = complete(exec, EXEC_PROPERTIES, "exec");
        environment = List.copyOf(environment);
        environmentFiles = List.copyOf(environmentFiles);
        passEnvironment = List.copyOf(passEnvironment);
        Objects.requireNonNull(workingDirectory, "workingDirectory");
        Objects.requireNonNull(rootDirectory, "rootDirectory");
        Objects.requireNonNull(rootImage, "rootImage");
        bindPaths = List.copyOf(bindPaths);
        bindReadOnlyPaths = List.copyOf(bindReadOnlyPaths);
        execSearchPath = List.copyOf(execSearchPath);
        temporaryFileSystem = List.copyOf(temporaryFileSystem);
        mountImages = List.copyOf(mountImages);
        extensionImages = List.copyOf(extensionImages);
        extensionDirectories = List.copyOf(extensionDirectories);
        loadCredentials = List.copyOf(loadCredentials);
        setCredentials = List.copyOf(setCredentials);
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(group, "group");
        supplementaryGroups = List.copyOf(supplementaryGroups);
        Objects.requireNonNull(pidFile, "pidFile");
        Objects.requireNonNull(type, "type");
        dependencies = complete(dependencies, DEPENDENCY_PROPERTIES, "dependencies");
    }

    /** Every key present (empty when missing), values immutable, order of {@code keys}, no other keys. */
    private static <T> Map<String, List<T>> complete(Map<String, List<T>> in, List<String> keys, String what) {
        Objects.requireNonNull(in, what);
        for (String k : in.keySet()) {
            if (!keys.contains(k)) {
                throw new IllegalArgumentException(what + " has an unknown key " + k);
            }
        }
        Map<String, List<T>> out = new LinkedHashMap<>();
        for (String k : keys) {
            out.put(k, List.copyOf(in.getOrDefault(k, List.of())));
        }
        return java.util.Collections.unmodifiableMap(out);
    }

    /** True when systemd found and parsed the unit file ({@code LoadState=loaded}). */
    public boolean loaded() {
        return "loaded".equals(loadState);
    }

    /** The commands of one {@link #EXEC_PROPERTIES} property. */
    public List<ExecCommand> exec(String property) {
        return listOf(exec, property, EXEC_PROPERTIES);
    }

    /** Every command of every {@code Exec*} property, in {@link #EXEC_PROPERTIES} order. */
    public List<ExecCommand> allCommands() {
        return exec.values().stream().flatMap(List::stream).toList();
    }

    /** The units of one {@link #DEPENDENCY_PROPERTIES} property. */
    public List<String> dependency(String property) {
        return listOf(dependencies, property, DEPENDENCY_PROPERTIES);
    }

    /** A timer's {@code Triggers}: the unit it starts (for a service, usually empty). */
    public List<String> triggers() {
        return dependencies.get("Triggers");
    }

    private static <T> List<T> listOf(Map<String, List<T>> map, String property, List<String> keys) {
        if (!keys.contains(property)) {
            throw new IllegalArgumentException(property + " is not one of " + keys);
        }
        return map.get(property);
    }
}
