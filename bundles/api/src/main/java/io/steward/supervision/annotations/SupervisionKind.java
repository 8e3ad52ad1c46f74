package io.steward.supervision.annotations;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.osgi.service.component.annotations.ComponentPropertyType;

/**
 * Marks a {@code SupervisionDispatcher} component as handling one kind; becomes the service
 * property {@code supervision.kind} (a single-element property type takes its name from the
 * annotation's).
 */
@ComponentPropertyType
@Retention(RetentionPolicy.CLASS)
@Target(ElementType.TYPE)
public @interface SupervisionKind {
    /** The kind's wire spelling, e.g. {@code systemd_timer}. */
    String value();
}
