//! Native `.sql` revision files (helper B writes this).
