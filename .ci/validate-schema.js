// Checks the published staff API schema with graphql-js, the reference implementation
// most clients build on: the SDL must parse, build and pass validateSchema.
// Usage: node .ci/validate-schema.js PATH/TO/node_modules/graphql api/schema.graphql
"use strict";
const fs = require("fs");
const { buildSchema, validateSchema, version } = require(process.argv[2]);

const sdl = fs.readFileSync(process.argv[3], "utf8");
const schema = buildSchema(sdl);
const errors = validateSchema(schema);
if (errors.length > 0) {
  for (const error of errors) {
    console.error(error.message);
  }
  process.exit(1);
}
const types = Object.keys(schema.getTypeMap()).filter((name) => !name.startsWith("__"));
console.log(`graphql-js ${version}: ${process.argv[3]} is valid (${types.length} types)`);
