package chaos

import (
	"fmt"
	"strings"

	"dledgerlab/core"
	"dledgerlab/core/sim"
)

// ParseRulesOff turns "up_to_date_check,persist_before_ack" into the core's
// switches. It names an unknown rule.
func ParseRulesOff(list string) (core.Rules, error) {
	var r core.Rules
	for _, name := range strings.Split(list, ",") {
		switch strings.TrimSpace(name) {
		case "":
		case sim.RuleUpToDateCheck:
			r.SkipUpToDateCheck = true
		case sim.RuleCurrentTermCommit:
			r.CommitOldTerms = true
		case sim.RulePersistBeforeAck:
			r.AckBeforePersist = true
		default:
			return r, fmt.Errorf("unknown rule %q (known: %s, %s, %s)", name, sim.RuleUpToDateCheck, sim.RuleCurrentTermCommit, sim.RulePersistBeforeAck)
		}
	}
	return r, nil
}

func rulesOff(list string) core.Rules {
	r, err := ParseRulesOff(list)
	if err != nil {
		panic(err)
	}
	return r
}
