// berth's version, as `berth version`, `berthd --version` and the tool named in SBOMs give it.
// A build may set BERTH_VERSION itself (-DBERTH_VERSION="...").
#pragma once

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.1.0-dev"
#endif
