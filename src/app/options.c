#include "app/options.h"

#include "app/config.h"
