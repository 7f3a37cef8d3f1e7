// Runs PMD 7 on an Apex source tree and prints one JSON object per line (violations, processing errors,
// configuration errors). PMD's CLI jar is not shipped in @salesforce/code-analyzer-pmd-engine (only pmd-core and
// pmd-apex), so this drives the documented Java API (net.sourceforge.pmd.PmdAnalysis) instead. Launched as a
// single source file (`java -cp "<java-lib>/*" PmdGate.java ...`, JEP 330): no build step, nothing compiled on disk.
//
// Usage: java -cp "<java-lib>/*" PmdGate.java <ruleset.xml> <source dir>
// Exit: 0 analysis ran (read the JSON lines for findings), 2 PMD could not run (bad ruleset, bad arguments).

import java.nio.file.Path;
import net.sourceforge.pmd.PMDConfiguration;
import net.sourceforge.pmd.PmdAnalysis;
import net.sourceforge.pmd.lang.rule.RulePriority;
import net.sourceforge.pmd.reporting.Report;
import net.sourceforge.pmd.reporting.RuleViolation;

public class PmdGate {
    public static void main(String[] args) {
        if (args.length != 2) {
            System.err.println("usage: PmdGate <ruleset.xml> <source dir>");
            System.exit(2);
        }
        PMDConfiguration config = new PMDConfiguration();
        config.addRuleSet(args[0]);
        config.addInputPath(Path.of(args[1]));
        // Collect every priority; the caller applies the documented threshold so that lower findings stay visible.
        config.setMinimumPriority(RulePriority.LOW);
        config.setIgnoreIncrementalAnalysis(true);
        try (PmdAnalysis pmd = PmdAnalysis.create(config)) {
            Report report = pmd.performAnalysisAndCollectReport();
            if (pmd.getReporter().numErrors() > 0 || pmd.getRulesets().isEmpty()) {
                System.err.println("PMD reported configuration errors (see above)");
                System.exit(2);
            }
            for (RuleViolation v : report.getViolations()) {
                System.out.println("{\"kind\":\"violation\",\"file\":" + json(v.getFileId().getAbsolutePath())
                    + ",\"line\":" + v.getBeginLine()
                    + ",\"rule\":" + json(v.getRule().getName())
                    + ",\"ruleSet\":" + json(v.getRule().getRuleSetName())
                    + ",\"priority\":" + v.getRule().getPriority().getPriority()
                    + ",\"message\":" + json(v.getDescription()) + "}");
            }
            for (Report.ProcessingError e : report.getProcessingErrors()) {
                System.out.println("{\"kind\":\"processingError\",\"file\":" + json(e.getFileId().getAbsolutePath())
                    + ",\"message\":" + json(e.getMsg()) + "}");
            }
            for (Report.ConfigurationError e : report.getConfigurationErrors()) {
                System.out.println("{\"kind\":\"configurationError\",\"rule\":" + json(e.rule().getName())
                    + ",\"message\":" + json(e.issue()) + "}");
            }
        }
    }

    private static String json(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder out = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"': out.append("\\\""); break;
                case '\\': out.append("\\\\"); break;
                case '\n': out.append("\\n"); break;
                case '\r': out.append("\\r"); break;
                case '\t': out.append("\\t"); break;
                default:
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
            }
        }
        return out.append('"').toString();
    }
}
