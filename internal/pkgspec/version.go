package pkgspec

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// versionPattern is what both managers accept and order the same way:
// apk-tools takes number{.number}...[-rN] (and rejects opkg's free-form
// versions such as 0.0.0-31-gabc1234), opkg compares X.Y.Z as upstream
// and rN as revision.
var versionPattern = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)-r(0|[1-9][0-9]*)$`)

// ValidVersion reports whether v is X.Y.Z-rN.
func ValidVersion(v string) bool { return versionPattern.MatchString(v) }

var tagPattern = regexp.MustCompile(`^v?([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?`)

// GitVersion derives the package version from git: describe is
// `git describe --tags --long --match 'v[0-9]*'` ("v1.2.0-3-gabc1234",
// empty without such a tag), count is `git rev-list --count HEAD`. The
// release is the number of commits since the tag plus one: the tagged
// commit is 1.2.0-r1, three commits later 1.2.0-r4. Without a tag it is
// 0.0.0-r<count>. Both grow with every commit, so upgrades order right in
// opkg and apk. The commit hash is not part of it (apk would refuse it
// there); `wanlb version` shows it (BinaryVersion).
func GitVersion(describe string, count int) (string, error) {
	describe = strings.TrimSpace(describe)
	if describe == "" {
		if count < 0 {
			count = 0
		}
		return fmt.Sprintf("0.0.0-r%d", count), nil
	}
	// The last two dash-separated parts are <commits> and g<hash>.
	parts := strings.Split(describe, "-")
	if len(parts) < 3 || !strings.HasPrefix(parts[len(parts)-1], "g") {
		return "", fmt.Errorf("pkgspec: git describe %q: want <tag>-<commits>-g<hash>", describe)
	}
	since, err := strconv.Atoi(parts[len(parts)-2])
	if err != nil || since < 0 {
		return "", fmt.Errorf("pkgspec: git describe %q: bad commit count", describe)
	}
	tag := strings.Join(parts[:len(parts)-2], "-")
	m := tagPattern.FindStringSubmatch(tag)
	if m == nil {
		return "", fmt.Errorf("pkgspec: tag %q does not start with vX.Y.Z", tag)
	}
	num := func(s string) int { n, _ := strconv.Atoi(s); return n }
	v := fmt.Sprintf("%d.%d.%d-r%d", num(m[1]), num(m[2]), num(m[3]), since+1)
	if !ValidVersion(v) {
		return "", fmt.Errorf("pkgspec: tag %q gives version %q", tag, v)
	}
	return v, nil
}

// BinaryVersion is what `wanlb version` prints: the package version and
// the commit it was built from ("1.2.0-r4 (git abc1234)", "-dirty" with
// uncommitted changes).
func BinaryVersion(version, hash string, dirty bool) string {
	if hash == "" {
		return version
	}
	if dirty {
		hash += "-dirty"
	}
	return fmt.Sprintf("%s (git %s)", version, hash)
}
