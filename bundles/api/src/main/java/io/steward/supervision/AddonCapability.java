package io.steward.supervision;

import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/**
 * An in-process capability switched on by a {@code config_toggle} add-on. Registered while the
 * add-on is enabled, with service properties {@link #ADDON_ID} and {@link #CAPABILITIES}, so an
 * appliance's component can bind to it with a target filter such as {@code (capabilities=flow-export)}.
 */
@ProviderType
public interface AddonCapability {
    /** Service property: the add-on id (String). */
    String ADDON_ID = "addon.id";
    /** Service property: the capabilities the add-on switches on (String[]). */
    String CAPABILITIES = "capabilities";

    /** The add-on that switched this capability on. */
    AddonId addon();

    /** Its assigned version. */
    String version();

    /** The capabilities it switches on. */
    List<String> capabilities();

    /** The add-on's config as a JSON object text. */
    String configJson();
}
