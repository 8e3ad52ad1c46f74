package io.steward.systemd.unitfile;

import java.util.ArrayList;
import java.util.List;

/**
 * systemd's word splitting ({@code extract_first_word} with {@code EXTRACT_UNQUOTE}) restricted to the forms whose
 * reading is unambiguous: words separated by spaces and tabs, a word either bare or wholly inside one pair of
 * {@code "} or {@code '} quotes. Backslashes never get here ({@link UnitFile} refuses them).
 */
final class Words {
    static final String QUOTES = "whole-word quotes";

    private Words() {
    }

    /** The words of {@code value}; {@link IllegalArgumentException} with the reason for anything else. */
    static List<String> split(String value) {
        List<String> words = new ArrayList<>();
        int i = 0;
        int n = value.length();
        while (true) {
            while (i < n && isSpace(value.charAt(i))) {
                i++;
            }
            if (i >= n) {
                return words;
            }
            char c = value.charAt(i);
            if (c == '"' || c == '\'') {
                int end = value.indexOf(c, i + 1);
                if (end < 0) {
                    throw new IllegalArgumentException("an unbalanced " + c + " quote");
                }
                if (end + 1 < n && !isSpace(value.charAt(end + 1))) {
                    throw new IllegalArgumentException("a closing " + c + " quote followed by \""
                            + value.charAt(end + 1) + "\" (systemd would join them into one word)");
                }
                words.add(value.substring(i + 1, end));
                i = end + 1;
            } else {
                int start = i;
                while (i < n && !isSpace(value.charAt(i))) {
                    char q = value.charAt(i);
                    if (q == '"' || q == '\'') {
                        throw new IllegalArgumentException("a " + q + " quote inside the word \""
                                + value.substring(start, Math.min(n, i + 1)) + "…\" (systemd would unquote it)");
                    }
                    i++;
                }
                words.add(value.substring(start, i));
            }
        }
    }

    static boolean isSpace(char c) {
        return c == ' ' || c == '\t';
    }
}
