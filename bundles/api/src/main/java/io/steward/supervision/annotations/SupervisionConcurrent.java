package io.steward.supervision.annotations;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.osgi.service.component.annotations.ComponentPropertyType;

/**
 * Marks a {@code SupervisionDispatcher} component whose calls for different add-ons may run at the
 * same time; becomes the service property {@code supervision.concurrent=true} (a marker property type
 * takes its name from the annotation's). Calls for one add-on are never concurrent.
 *
 * @since 1.1
 */
@ComponentPropertyType
@Retention(RetentionPolicy.CLASS)
@Target(ElementType.TYPE)
public @interface SupervisionConcurrent {
}
