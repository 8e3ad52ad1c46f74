package io.steward.systemd.unitfile;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The directives Steward lets a unit use, per section, and how the policy reads each value. Anything not listed
 * is refused: an allowlist, so a directive systemd adds later is refused until someone decides what it means.
 */
final class Directives {
    /** How a value is checked. */
    enum Kind {
        /** no path, no unit name, nothing run: only the text rules */
        FREE,
        /** a command line ({@code Exec*=}) */
        EXEC,
        /** {@code NAME=value} assignments */
        ENVIRONMENT,
        /** a path root reads or searches ({@code WorkingDirectory=}, {@code PIDFile=}) */
        PATH,
        /** units this one starts, stops or follows */
        DEPENDENCIES,
        /** a directory systemd creates and chowns under /var/lib, /run, … */
        DIRECTORIES,
        /** a user or group name */
        IDENTITY,
        /** an action systemd takes on the whole host: only {@code none} */
        HOST_ACTION,
        /** standard output or error */
        OUTPUT,
        /** standard input: only {@code null} */
        INPUT,
        /** a timer's {@code Unit=} */
        TIMER_UNIT,
        /** {@code WantedBy=}/{@code RequiredBy=} */
        INSTALL_TARGET
    }

    private static final Map<String, Map<String, Kind>> ALLOWED = allowed();
    /** Directives refused on purpose, with the reason the refusal gives. */
    private static final Map<String, String> REFUSED = refused();

    private static Map<String, Map<String, Kind>> allowed() {
        Map<String, Map<String, Kind>> allowed = new HashMap<>();
        Map<String, Kind> unit = new HashMap<>();
        free(unit, "Description", "Documentation", "After", "Before", "DefaultDependencies", "StartLimitIntervalSec",
                "StartLimitInterval", "StartLimitBurst", "RefuseManualStart", "RefuseManualStop", "StopWhenUnneeded",
                "IgnoreOnIsolate", "JobTimeoutSec", "JobRunningTimeoutSec", "CollectMode", "OnFailureJobMode",
                "RequiresMountsFor", "FailureActionExitStatus", "SuccessActionExitStatus");
        of(unit, Kind.DEPENDENCIES, "Wants", "Requires", "Requisite", "BindsTo", "PartOf", "Upholds", "Conflicts",
                "OnFailure", "OnSuccess", "PropagatesReloadTo", "ReloadPropagatedFrom", "PropagatesStopTo",
                "StopPropagatedFrom");
        of(unit, Kind.HOST_ACTION, "FailureAction", "SuccessAction", "StartLimitAction", "JobTimeoutAction");
        allowed.put("Unit", Map.copyOf(unit));

        Map<String, Kind> service = new HashMap<>();
        free(service, "Type", "ExitType", "Restart", "RestartSec", "RestartPreventExitStatus", "RestartForceExitStatus",
                "SuccessExitStatus", "TimeoutSec", "TimeoutStartSec", "TimeoutStopSec", "TimeoutAbortSec",
                "TimeoutStartFailureMode", "TimeoutStopFailureMode", "RuntimeMaxSec", "RuntimeRandomizedExtraSec",
                "WatchdogSec", "RemainAfterExit", "GuessMainPID", "NotifyAccess", "BusName", "KillMode", "KillSignal",
                "RestartKillSignal", "SendSIGKILL", "SendSIGHUP", "FinalKillSignal", "WatchdogSignal", "UMask", "Nice",
                "OOMScoreAdjust", "OOMPolicy", "IOSchedulingClass", "IOSchedulingPriority", "CPUSchedulingPolicy",
                "CPUSchedulingPriority", "CPUSchedulingResetOnFork", "CPUAffinity", "NUMAPolicy", "NUMAMask",
                "TimerSlackNSec", "CoredumpFilter", "IgnoreSIGPIPE", "UnsetEnvironment", "DynamicUser",
                "SyslogIdentifier", "SyslogFacility", "SyslogLevel", "SyslogLevelPrefix", "LogLevelMax",
                "LogExtraFields", "LogRateLimitIntervalSec", "LogRateLimitBurst", "PermissionsStartOnly",
                "NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "PrivateNetwork",
                "PrivateUsers", "PrivateIPC", "PrivateMounts", "ProtectKernelTunables", "ProtectKernelModules",
                "ProtectKernelLogs", "ProtectControlGroups", "ProtectClock", "ProtectHostname", "ProtectProc",
                "ProcSubset", "RestrictAddressFamilies", "RestrictNamespaces", "RestrictRealtime", "RestrictSUIDSGID",
                "LockPersonality", "MemoryDenyWriteExecute", "SystemCallFilter", "SystemCallArchitectures",
                "SystemCallErrorNumber", "SystemCallLog", "CapabilityBoundingSet", "AmbientCapabilities", "RemoveIPC",
                "DevicePolicy", "DeviceAllow", "IPAddressAllow", "IPAddressDeny", "IPAccounting", "SocketBindAllow",
                "SocketBindDeny", "RestrictNetworkInterfaces", "ReadWritePaths", "ReadOnlyPaths", "InaccessiblePaths",
                "ExecPaths", "NoExecPaths", "ReadWriteDirectories", "ReadOnlyDirectories", "InaccessibleDirectories",
                "CPUAccounting", "CPUQuota", "CPUQuotaPeriodSec", "CPUWeight", "StartupCPUWeight", "CPUShares",
                "MemoryAccounting", "MemoryMin", "MemoryLow", "MemoryHigh", "MemoryMax", "MemorySwapMax", "MemoryLimit",
                "TasksAccounting", "TasksMax", "IOAccounting", "IOWeight", "StartupIOWeight", "ManagedOOMSwap",
                "ManagedOOMMemoryPressure", "ManagedOOMMemoryPressureLimit", "ManagedOOMPreference",
                "FileDescriptorStoreMax", "NonBlocking", "RuntimeDirectoryPreserve", "StateDirectoryMode", "RuntimeDirectoryMode",
                "CacheDirectoryMode", "LogsDirectoryMode", "ConfigurationDirectoryMode", "LimitCPU", "LimitFSIZE",
                "LimitDATA", "LimitSTACK", "LimitCORE", "LimitRSS", "LimitNOFILE", "LimitAS", "LimitNPROC",
                "LimitMEMLOCK", "LimitLOCKS", "LimitSIGPENDING", "LimitMSGQUEUE", "LimitNICE", "LimitRTPRIO",
                "LimitRTTIME");
        of(service, Kind.EXEC, "ExecStart", "ExecStartPre", "ExecStartPost", "ExecCondition", "ExecReload",
                "ExecStop", "ExecStopPost");
        of(service, Kind.ENVIRONMENT, "Environment");
        of(service, Kind.PATH, "WorkingDirectory", "PIDFile");
        of(service, Kind.DIRECTORIES, "StateDirectory", "RuntimeDirectory", "CacheDirectory", "LogsDirectory",
                "ConfigurationDirectory");
        of(service, Kind.IDENTITY, "User", "Group", "SupplementaryGroups");
        of(service, Kind.OUTPUT, "StandardOutput", "StandardError");
        of(service, Kind.INPUT, "StandardInput");
        allowed.put("Service", Map.copyOf(service));

        Map<String, Kind> timer = new HashMap<>();
        free(timer, "OnActiveSec", "OnBootSec", "OnStartupSec", "OnUnitActiveSec", "OnUnitInactiveSec", "OnCalendar",
                "AccuracySec", "RandomizedDelaySec", "FixedRandomDelay", "OnClockChange", "OnTimezoneChange",
                "Persistent", "WakeSystem", "RemainAfterElapse");
        of(timer, Kind.TIMER_UNIT, "Unit");
        allowed.put("Timer", Map.copyOf(timer));

        Map<String, Kind> install = new HashMap<>();
        of(install, Kind.INSTALL_TARGET, "WantedBy", "RequiredBy");
        allowed.put("Install", Map.copyOf(install));
        return Map.copyOf(allowed);
    }

    private static Map<String, String> refused() {
        Map<String, String> refused = new HashMap<>();
        refuse(refused, "it changes which program a bare name runs", "ExecSearchPath");
        refuse(refused, "it changes what every path of the unit means (a different root or mounts)", "RootDirectory",
                "RootImage", "RootImageOptions", "RootHash", "RootHashSignature", "RootVerity", "MountImages",
                "ExtensionImages", "ExtensionDirectories", "BindPaths", "BindReadOnlyPaths", "TemporaryFileSystem",
                "RootDirectoryStartOnly", "MountAPIVFS");
        refuse(refused, "it hands the service credentials of the host", "LoadCredential", "LoadCredentialEncrypted",
                "SetCredential", "SetCredentialEncrypted", "ImportCredential");
        refuse(refused, "it passes the manager's environment, which Steward cannot see", "PassEnvironment");
        refuse(refused, "systemd reads its variables at every start, after Steward's checks; set them with Environment=",
                "EnvironmentFile");
        refuse(refused, "it joins another unit's or a file's namespaces", "JoinsNamespaceOf", "NetworkNamespacePath",
                "IPCNamespacePath");
        refuse(refused, "it runs a PAM session as root", "PAMName");
        refuse(refused, "it binds units Steward does not own", "Sockets", "Slice", "Delegate");
        refuse(refused, "it opens a terminal or a file for the service", "TTYPath", "OpenFile", "StandardInputText",
                "StandardInputData");
        refuse(refused, "it loads programs into the kernel", "BPFProgram", "IPIngressFilterPath", "IPEgressFilterPath");
        refuse(refused, "it changes the security context the service runs in", "AppArmorProfile", "SELinuxContext",
                "SmackProcessLabel", "Personality", "SecureBits", "KeyringMode");
        refuse(refused, "Steward installs a unit under its own name only (an alias could shadow another unit)", "Alias");
        refuse(refused, "Steward never enables a unit it does not own", "Also");
        refuse(refused, "Steward installs no template units", "DefaultInstance");
        return Map.copyOf(refused);
    }

    private Directives() {
    }

    private static void free(Map<String, Kind> section, String... keys) {
        of(section, Kind.FREE, keys);
    }

    private static void of(Map<String, Kind> section, Kind kind, String... keys) {
        for (String k : keys) {
            section.put(k, kind);
        }
    }

    private static void refuse(Map<String, String> refused, String why, String... keys) {
        for (String k : keys) {
            refused.put(k, why);
        }
    }

    /** How {@code key} of {@code section} is read, if it is allowed there; {@code Condition*}/{@code Assert*} are. */
    static Optional<Kind> kind(String section, String key) {
        if (section.equals("Unit") && (key.startsWith("Condition") || key.startsWith("Assert"))
                && key.length() > 6 && key.chars().allMatch(Character::isLetter)) {
            return Optional.of(Kind.FREE);
        }
        return Optional.ofNullable(ALLOWED.getOrDefault(section, Map.of()).get(key));
    }

    /** Why {@code key} is refused on purpose, if it is. */
    static Optional<String> refusal(String key) {
        return Optional.ofNullable(REFUSED.get(key));
    }

    /** System targets a unit may want, require or be wanted by; none of them stops, reboots or isolates. */
    static final Set<String> SYSTEM_TARGETS = Set.of("network.target", "network-online.target", "nss-lookup.target",
            "time-sync.target", "local-fs.target", "remote-fs.target", "sysinit.target", "basic.target",
            "multi-user.target", "timers.target", "sockets.target", "paths.target");

    /** Targets whose {@code .wants}/{@code .requires} Steward links its units into. */
    static final Set<String> INSTALL_TARGETS = Set.of("multi-user.target", "default.target", "timers.target",
            "graphical.target");
}
