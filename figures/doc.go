// Package figures publishes management figures (counts per month, municipality, institution
// type, kind and signal code) under statistical disclosure control, so that no figure can be
// used to single out a youth.
//
// # What is counted
//
// A [Counts] holds, for each [Measure] (registrations, matches, coordinator assignments,
// closures, removals because wrong, removals after an objection), a count per cell of the
// five-dimensional cube month × municipality × institution type × kind × signal code. The
// package reads nothing else: it never sees a youth, a pseudonym or a registration, only these
// aggregate counts, and [Durations] histograms for the median time from match to coordinator.
//
// # The release: one suppression pattern for every query
//
// Figures are never computed per query. [NewRelease] builds, once for a period, every cell of a
// fixed set of tables (by default every table over at most three of the five dimensions, with
// the other dimensions summed), suppresses them once, and a [Query] only reads numbers from
// that release: its cells, row totals, column totals and grand total are all cells of release
// tables (a row total is a cell of the table without the column dimension, and so on). Two
// queries, or a total in one and its cells in another, therefore never publish anything that
// was not suppressed together: whatever an attacker combines, they combine numbers of one
// consistently suppressed release, and the guarantee below covers all of them at once.
//
// # Suppression
//
// Primary suppression: every cell with a count from 1 to Threshold−1 (default 9) is shown as
// "<10". A count of 0 is shown: it says that no youth is in the cell, which singles out no one,
// and hiding zeros would make every sparse table unreadable. A zero may still be hidden as a
// complementary suppression (below); a hidden zero looks exactly like a hidden small count.
// Every suppressed cell, primary or complementary, is shown the same way ("<10"), so the
// output does not tell an attacker which hidden cells are small; the label means "under 10, or
// hidden to protect a cell under 10".
//
// Complementary suppression: for every suppressed cell p, the release keeps a certificate that
// p cannot be worked out. A certificate is a perturbation of the raw population: a hypercube of
// cells of the full five-dimensional cube, two values in each dimension of p's table and one
// fixed value (the anchor) in the others, with alternating signs +1/−1 on its corners. Adding it
// to the population changes p by one, keeps every cell non-negative (every −1 corner is at
// least 1), and leaves every published number unchanged: a published cell either sums over a
// dimension of the hypercube, so its corners cancel in pairs, or it contains a corner, and then
// the certificate requires it to be suppressed. So for every suppressed cell there are two
// populations, differing in that cell, that give exactly the same release. No arithmetic on
// the published cells and totals, of one query or of any number of queries, can pin the value
// of a suppressed cell to one value. Complementary cells are chosen per suppressed cell by the
// certificate that needs the fewest new suppressions, then the smallest counts (among a few
// second values per dimension and a few anchors); they are certified in turn until every
// suppressed cell has a certificate. When no hypercube will do, a single raw cell is one, with
// every published cell that holds it hidden; so every suppressed cell gets a certificate, and
// the search's bounds only make the choice of complements greedy, never the guarantee weaker.
// The tests check every certificate against a brute-force recount of the changed population,
// and attack every release (and pairs of queries) by propagating the published equations.
//
// Measures are suppressed independently: they are different counts that no published equation
// links.
//
// # Limits
//
//   - The guarantee is against exact disclosure: a suppressed cell cannot be pinned. An
//     attacker may still narrow it to a range, and a complementary cell may be narrowed more
//     than a primary one. Protection intervals of a fixed width (as τ-ARGUS offers) are not
//     enforced.
//   - It covers one release. Two releases over overlapping periods (January–March and
//     January–April), or a release recomputed after counts of a closed month changed, are
//     suppressed independently and their difference is not protected. Publish releases for
//     fixed, non-overlapping periods (a calendar year, built once its counts are final), and
//     let every query of that period read the same release.
//   - Relations between measures that are not published equations (a municipality's matches
//     cannot exceed twice its registrations) are not modelled.
//   - The guarantee assumes the values of each dimension are declared ([Config.Domains]: the
//     period's months, the covenant's municipalities, institution types and signal codes). A
//     value taken from the counts is shown to occur at all.
//   - A release is built in one batch: about ten seconds on one core for a region's year (30
//     municipalities, 8 institution types, 10 signal codes, 20,000 registrations; see
//     BenchmarkNewRelease). Build it once per period and keep it; queries are map look-ups.
//   - Knowledge from outside the release (a professional who knows of one registration) is not
//     modelled; it is what the threshold of 10 is for.
//
// # Publishing: one release per closed year
//
// [Releases] keeps to these limits for a service: it publishes one release per calendar year,
// built once the year has closed (its counts final), on the first request for it, and every
// query of the year reads that release; a year that has not closed has none. Months are rows
// of a year's tables, never releases of their own.
//
// # Median time from match to coordinator
//
// A median is not a sum, so it cannot be recovered by differencing, but the median of a small
// group is close to one youth's own waiting time. [Durations] keeps a histogram in whole days;
// [Durations.Median] gives the lower median (a value that occurred) only when the group holds at
// least Threshold matches and the group's count of coordinator assignments is itself
// published, and reports it suppressed otherwise (a median of a hidden count would tell that
// the count is 10 or more). The certificates above are about counts: they do not prove that the
// medians of the changed population are the same, so a median is protected by the size of its
// group, not by the suppression pattern.
package figures
